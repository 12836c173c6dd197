// envelope_test.cc - every string of the handler envelope is UTF-8, as handler.h promises,
// whatever bytes the message and its envelope carried (issue 8 item 14).
#include <gtest/gtest.h>

#include <string>

#include "mail/charset.h"
#include "runtime/host.h"

namespace threadmill::runtime {
namespace {

TEST(runtime_Envelope, StringsAreUtf8) {
  Job job;
  job.id = "J1";
  job.mail_from = "\xFF\xFEsender@evil.example";
  job.recipient = "help@example.com";
  job.message_id = "\xC0\xAF\xFF@evil.example";
  job.queue_id = "Q1";
  std::string raw =
      "From: \"J\xF6rg \xFF\" <j\xF6rg@evil.example>\r\n"
      "Subject: =?utf-8;?B?9JCAgA==?= =?UTF-8//IGNORE?Q?=ED=A0=80?= \xFF\r\n"
      "Message-ID: <\xC0\xAF\xFF@evil.example>\r\n"
      "X-Raw: caf\xE9 \xF4\x90\x80\x80\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=\"utf-8;\"\r\n\r\nhi \xED\xA0\x80\r\n"
      "--b\r\nContent-Type: application/x-\xFF; name*=UTF-8''%F4%90%80%80.pdf\r\n\r\nx\r\n"
      "--b--\r\n";
  InboundMessage m(job, raw);
  const threadmill_envelope* e = m.envelope();
  for (const char* s :
       {e->channel, e->channel_thread_id, e->channel_message_id, e->sender_address, e->sender_name,
        e->from_address, e->user_id, e->subject, e->message_text, e->reply_text, e->dmarc, e->spf,
        e->dkim, e->no_reply_reason, e->queue_id, e->thread_owner, e->job_id}) {
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(mail::IsValidUtf8(s)) << s;
  }
  ASSERT_EQ(e->attachment_count, 1u);
  EXPECT_TRUE(mail::IsValidUtf8(e->attachments[0].filename));
  EXPECT_TRUE(mail::IsValidUtf8(e->attachments[0].content_type));
  ASSERT_GE(e->header_count, 4u);
  for (size_t i = 0; i < e->header_count; ++i) {
    EXPECT_TRUE(mail::IsValidUtf8(e->headers[i].name)) << i;
    EXPECT_TRUE(mail::IsValidUtf8(e->headers[i].value)) << i;
  }
  EXPECT_STREQ(e->headers[3].value, "caf\xC3\xA9 \xC3\xB4\xEF\xBF\xBD\xE2\x82\xAC\xE2\x82\xAC");
  EXPECT_STREQ(e->channel_message_id, "<\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD@evil.example>");
  // The message stays what it was underneath (matching, replies use the raw id).
  EXPECT_EQ(m.facts().message_id, job.message_id);
}

}  // namespace
}  // namespace threadmill::runtime
