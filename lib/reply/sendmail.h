// sendmail.h - hands a message to the MTA through its sendmail(1) interface.
//
// DESCRIPTION
//   Reinject runs `COMMAND... -i -f SENDER -- RCPT...` with execv (no shell, no PATH
//   search), writes the message to its standard input, and waits for it within a time-out
//   (then SIGKILL). Exit status 0 is success; anything else is kTemporary with the status
//   and the first lines of its standard error, so the caller can retry. COMMAND is the
//   configured [reply] sendmail array: a fixed absolute path plus optional arguments (the
//   test rig adds "-C DIR" for its private Postfix).
//
//   For Postfix, mail injected this way passes through non_smtpd_milters, i.e. back through
//   threadmill, which classifies it as outbound and never routes it to a handler.
//
// STANDARDS
//   Postfix sendmail(1) / Sendmail command line: -i (a lone "." does not end the message),
//   -f (envelope sender; "<>" for the null sender), "--" before recipients.
//
// LIMITS
//   Safe to call from a multi-threaded process (only async-signal-safe calls between fork and
//   exec). SIGPIPE is ignored around the write. Blocks the calling thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::reply {

// Runs sendmail once. envelope_sender "" means the null sender (written as "<>").
Status Reinject(const std::vector<std::string>& command, std::string_view envelope_sender,
                const std::vector<std::string>& recipients, std::string_view message,
                int timeout_seconds);

}  // namespace threadmill::reply
