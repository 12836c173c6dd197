// reauth.cc - see reauth.h.
#include "filter/reauth.h"

#include "filter/authentication.h"
#include "filter/reply_safety.h"

#include <algorithm>
#include <stdexcept>

namespace threadmill::filter {

SpooledMessage SplitSpooled(std::string_view raw) {
  SpooledMessage out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    if (line.empty() || line == "\r") {  // the blank line: the body follows
      pos = std::min(eol + 1, raw.size());
      out.body = raw.substr(pos);
      return out;
    }
    // The field runs on over continuation lines (starting with white space).
    size_t end = eol;
    while (end + 1 < raw.size() && (raw[end + 1] == ' ' || raw[end + 1] == '\t')) {
      size_t next = raw.find('\n', end + 1);
      end = next == std::string_view::npos ? raw.size() : next;
    }
    std::string_view field = raw.substr(pos, end - pos);
    if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
    size_t colon = field.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      out.fields.emplace_back(field.substr(0, colon), field.substr(colon + 1));
    }
    pos = std::min(end + 1, raw.size());
  }
  return out;  // no blank line: headers only
}

runtime::ReauthVerdict SpoolReauthenticator::Reauthenticate(const runtime::Job& job,
                                                            std::string_view raw) {
  runtime::ReauthVerdict out;
  auto message = auth_->Begin(job.client_addr, job.helo, job.queue_id);
  message->EnvelopeFrom(job.mail_from);
  SpooledMessage spooled = SplitSpooled(raw);
  for (const auto& [name, value] : spooled.fields) message->Header(name, value);
  message->EndOfHeaders();
  if (!spooled.body.empty()) message->Body(spooled.body);
  auth::Verdicts verdicts = message->Finish();
  for (const auto& [key, value] : verdicts.SummaryFields()) {
    if (key == "dmarc") out.dmarc = value;
    if (key == "spf") out.spf = value;
    if (key == "dkim") out.dkim = value;
  }
  out.sender_authenticated = SenderAuthenticated(job.mail_from, &verdicts, auth_->psl());
  return out;
}

std::unique_ptr<runtime::JobReauthenticator> MakeJobReauthenticator(
    const config::AuthConfig& auth) {
  if (!auth.enabled) return nullptr;
  auto created = auth::Authenticator::Create(MakeAuthOptions(auth));
  if (!created.ok()) {
    throw std::runtime_error("cannot set up authentication: " + created.error().message);
  }
  return std::make_unique<SpoolReauthenticator>(
      std::shared_ptr<auth::Authenticator>(std::move(*created)));
}

}  // namespace threadmill::filter
