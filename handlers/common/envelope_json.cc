// envelope_json.cc - see envelope_json.h.
#include "envelope_json.h"

#include <cstddef>

namespace threadmill::handlers::common {
namespace {

// True when the host's envelope (of envelope.struct_size bytes) contains member at offset
// `offset` of `size` bytes: older hosts pass shorter structs (append-only ABI).
bool Has(const threadmill_envelope& envelope, size_t offset, size_t size) {
  return envelope.struct_size >= offset + size;
}

#define TM_HAS(env, member) \
  Has(env, offsetof(threadmill_envelope, member), sizeof(threadmill_envelope::member))

std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

nlohmann::json Flags(uint32_t flags) {
  return {
      {"auto_submitted", (flags & THREADMILL_ENV_AUTO_SUBMITTED) != 0},
      {"list", (flags & THREADMILL_ENV_LIST) != 0},
      {"bulk", (flags & THREADMILL_ENV_BULK) != 0},
      {"thread_known", (flags & THREADMILL_ENV_THREAD_KNOWN) != 0},
      {"no_reply", (flags & THREADMILL_ENV_NO_REPLY) != 0},
      {"auto_response", (flags & THREADMILL_ENV_AUTO_RESPONSE) != 0},
  };
}

nlohmann::json Attachments(const threadmill_envelope& envelope) {
  nlohmann::json list = nlohmann::json::array();
  if (!envelope.attachments) return list;
  for (size_t i = 0; i < envelope.attachment_count; ++i) {
    const threadmill_attachment& a = envelope.attachments[i];
    nlohmann::json item = {{"file_id", Str(a.file_id)},
                           {"filename", Str(a.filename)},
                           {"content_type", Str(a.content_type)},
                           {"size", a.size}};
    list.push_back(std::move(item));
  }
  return list;
}

nlohmann::json Headers(const threadmill_envelope& envelope) {
  nlohmann::json list = nlohmann::json::array();
  if (!envelope.headers) return list;
  for (size_t i = 0; i < envelope.header_count; ++i) {
    list.push_back(
        {{"name", Str(envelope.headers[i].name)}, {"value", Str(envelope.headers[i].value)}});
  }
  return list;
}

}  // namespace

nlohmann::json EnvelopeToJson(const threadmill_envelope& e) {
  nlohmann::json j = nlohmann::json::object();
  if (TM_HAS(e, channel)) j["channel"] = Str(e.channel);
  if (TM_HAS(e, channel_thread_id)) j["channel_thread_id"] = Str(e.channel_thread_id);
  if (TM_HAS(e, channel_message_id)) j["channel_message_id"] = Str(e.channel_message_id);
  if (TM_HAS(e, sender_address)) j["sender"] = Str(e.sender_address);
  if (TM_HAS(e, sender_name)) j["sender_name"] = Str(e.sender_name);
  if (TM_HAS(e, from_address)) j["from_address"] = Str(e.from_address);
  if (TM_HAS(e, user_id)) j["user_id"] = Str(e.user_id);
  if (TM_HAS(e, subject)) j["subject"] = Str(e.subject);
  if (TM_HAS(e, message_text)) j["message_text"] = Str(e.message_text);
  if (TM_HAS(e, reply_text)) j["reply_text"] = Str(e.reply_text);
  if (TM_HAS(e, attachment_count)) j["attachments"] = Attachments(e);
  if (TM_HAS(e, dmarc)) j["dmarc"] = Str(e.dmarc);
  if (TM_HAS(e, spf)) j["spf"] = Str(e.spf);
  if (TM_HAS(e, dkim)) j["dkim"] = Str(e.dkim);
  if (TM_HAS(e, references_count)) j["references_count"] = e.references_count;
  if (TM_HAS(e, flags)) j["flags"] = Flags(e.flags);
  if (TM_HAS(e, no_reply_reason)) j["no_reply_reason"] = Str(e.no_reply_reason);
  if (TM_HAS(e, queue_id)) j["queue_id"] = Str(e.queue_id);
  if (TM_HAS(e, received_time)) j["received_time"] = e.received_time;
  if (TM_HAS(e, thread_owner)) j["thread_owner"] = Str(e.thread_owner);
  if (TM_HAS(e, header_count)) j["headers"] = Headers(e);
  if (TM_HAS(e, job_id)) j["job_id"] = Str(e.job_id);
  if (TM_HAS(e, attempt)) j["attempt"] = e.attempt;
  if (TM_HAS(e, reply_allowed)) j["reply_allowed"] = e.reply_allowed != 0;
  if (TM_HAS(e, parent_message_id)) j["parent_message_id"] = Str(e.parent_message_id);
  return j;
}

#undef TM_HAS

std::string EnvelopeToJsonText(const threadmill_envelope& envelope) {
  return EnvelopeToJson(envelope).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace threadmill::handlers::common
