// reauth.h - the milter's authentication run again over a spooled job (runtime/reauth.h).
//
// DESCRIPTION
//   SpoolReauthenticator feeds a job's spooled message to the same auth::Authenticator the
//   milter uses (made by MakeAuthOptions from the same [auth]: resolver, SPF, DKIM, DMARC,
//   alignment, trusted A-R), in SMTP order: Begin(client address, HELO), MAIL FROM, every
//   header field as spooled (value as it followed the colon), end of headers, the body.
//   sender_authenticated is filter::SenderAuthenticated over the new verdicts.
//   MakeJobReauthenticator is what the daemon installs (runtime::InstallReauthFactory).
//
// STANDARDS
//   RFC 5322 section 2.2.3 (folded header fields: a line starting with white space continues
//   the field above), RFC 7208, RFC 6376, RFC 7489.
//
// LIMITS
//   A spooled header line without a colon is skipped (as the MTA would not have sent it).
//   Thread-compatible: one object per worker.
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authenticator.h"
#include "config/config.h"
#include "runtime/reauth.h"

namespace threadmill::filter {

class SpoolReauthenticator : public runtime::JobReauthenticator {
 public:
  explicit SpoolReauthenticator(std::shared_ptr<auth::Authenticator> authenticator)
      : auth_(std::move(authenticator)) {}
  runtime::ReauthVerdict Reauthenticate(const runtime::Job& job, std::string_view raw) override;

 private:
  std::shared_ptr<auth::Authenticator> auth_;
};

// Null when [auth] enabled = false. Throws std::runtime_error as MakeAuthenticator.
std::unique_ptr<runtime::JobReauthenticator> MakeJobReauthenticator(const config::AuthConfig& auth);

// Splits a spooled message into (name, value after the colon) fields and the body. Pure.
struct SpooledMessage {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  std::string_view body;
};
SpooledMessage SplitSpooled(std::string_view raw);

}  // namespace threadmill::filter
