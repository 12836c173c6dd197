// runtime_commands.h - threadmillctl's handler-runtime commands: queue, drafts, kv.
//
// DESCRIPTION
//   Each Run*Command gets the words after the program options (words[0] is the command) and
//   returns the exit status: 0 done, 1 not found or error, 2 usage. Read-only commands open
//   the store read-only; retry/park/approve/reject open it read-write. `drafts approve`
//   sends the reply through the configured [reply] sendmail with every reply rule applied,
//   so it must run as a user allowed to use that sendmail (root or the service user).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace threadmill::ctl {

int RunQueueCommand(const config::Config& config, const std::vector<std::string>& words, bool json);
int RunDraftCommand(const config::Config& config, const std::vector<std::string>& words, bool json);
int RunKvCommand(const config::Config& config, const std::vector<std::string>& words, bool json);
int RunReplyCommand(const config::Config& config, const std::vector<std::string>& words, bool json);

// Shared by the three files.
namespace runtime_cli {
int Fail(const std::string& message, int code = 1);
}

}  // namespace threadmill::ctl
