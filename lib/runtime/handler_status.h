// handler_status.h - <spool>/handlers.loaded: the handler instances the supervisor runs, for
// threadmillctl.
//
// DESCRIPTION
//   The supervisor rewrites the file (one handler name per line, written to a temporary file
//   and renamed into place) at start and after each reload; `threadmillctl queue list` reads
//   it to mark queued jobs whose handler is not loaded (they wait until a reload loads it).
//
// LIMITS
//   The file says what the last supervisor ran: after it stopped it may be stale.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace threadmill::runtime {

std::string LoadedHandlersPath(const std::string& spool_dir);

// Errors: kInternal with the file and errno text.
Status WriteLoadedHandlers(const std::string& spool_dir, const std::vector<std::string>& names);

// nullopt when the file is missing or unreadable (no supervisor has run).
std::optional<std::set<std::string>> ReadLoadedHandlers(const std::string& spool_dir);

}  // namespace threadmill::runtime
