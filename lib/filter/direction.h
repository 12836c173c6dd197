// direction.h - is a message outbound (ours, to be recorded) or inbound (to be resolved)?
//
// DESCRIPTION
//   Outbound: the client is in internal_hosts (loopback by default, which covers mail injected
//   with sendmail through Postfix's non_smtpd_milters), the session is SMTP-authenticated, or
//   the MTA's {daemon_name} is a configured submission service (the OpenDKIM InternalHosts /
//   milter_macro_daemon_name = ORIGINATING conventions). Everything else is inbound.
#pragma once

#include "config/config.h"
#include "filter/envelope.h"
#include "store/records.h"

namespace threadmill::filter {

struct DirectionVerdict {
  store::Direction direction = store::Direction::kInbound;
  const char* why = "external";  // internal-host | authenticated | submission | external
};

DirectionVerdict ClassifyDirection(const Envelope& envelope, const config::DirectionConfig& config);

}  // namespace threadmill::filter
