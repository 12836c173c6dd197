// db_command.cc - see db_command.h.
#include "ctl/db_command.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "ctl/output.h"
#include "ctl/terminal_text.h"
#include "runtime/runtime_config.h"
#include "store/database_admin.h"

namespace threadmill::ctl {
namespace {

nlohmann::ordered_json ToJson(const store::DatabaseStatus& s) {
  nlohmann::ordered_json j = {{"backend", s.backend}};
  if (s.backend != "postgresql") {
    j["note"] = "no database: the store is the local LMDB environment";
    return j;
  }
  j["database"] = s.target;
  j["reachable"] = s.reachable;
  if (!s.error.empty()) j["error"] = s.error;
  j["schema_applied"] = s.applied;
  j["schema_expected"] = s.expected;
  j["pending"] = s.pending;
  return j;
}

void PrintText(const store::DatabaseStatus& s) {
  std::printf("backend    %s\n", s.backend.c_str());
  if (s.backend != "postgresql") {
    std::printf("database   none: the store is the local LMDB environment\n");
    return;
  }
  std::printf("database   %s\n", TerminalText(s.target, false).c_str());
  std::printf("reachable  %s\n",
              s.reachable ? "yes" : ("no: " + TerminalText(s.error, false)).c_str());
  if (!s.reachable) return;
  std::printf("schema     %d applied, %d expected\n", s.applied, s.expected);
  std::string pending;
  for (int v : s.pending) pending += (pending.empty() ? "" : " ") + std::to_string(v);
  if (s.applied > s.expected) pending = "none (the database is newer than this threadmill)";
  std::printf("pending    %s\n", pending.empty() ? "none" : pending.c_str());
}

int Usage() {
  std::fprintf(stderr, "threadmillctl: db needs \"status\" or \"migrate\"\n");
  return 2;
}

}  // namespace

int RunDbCommand(const config::Config& config, const std::vector<std::string>& words, bool json) {
  if (words.size() != 2) return Usage();
  store::EnvOptions options = runtime::StoreOptions(config);
  if (words[1] == "status") {
    store::DatabaseStatus s = store::GetDatabaseStatus(options);
    if (json) {
      Print(ToJson(s), true);
    } else {
      PrintText(s);
    }
    return s.backend != "postgresql" || s.up_to_date() ? 0 : 1;
  }
  if (words[1] != "migrate") return Usage();
  if (options.backend != "postgresql") {
    if (json) {
      Print(ToJson(store::GetDatabaseStatus(options)), true);
    } else {
      std::printf(
          "backend lmdb: nothing to migrate (no database; the LMDB environment's layout is "
          "checked when it opens)\n");
    }
    return 0;
  }
  store::DatabaseStatus before = store::GetDatabaseStatus(options);
  auto after = store::MigrateDatabase(options);
  if (!after.ok()) {
    std::fprintf(stderr, "threadmillctl: db migrate: %s\n",
                 TerminalText(after.error().message, false).c_str());
    return 1;
  }
  if (json) {
    nlohmann::ordered_json j = ToJson(*after);
    j["applied_now"] = before.reachable ? before.pending : std::vector<int>{};
    Print(j, true);
    return 0;
  }
  if (before.reachable && before.pending.empty()) {
    std::printf("schema version %d: up to date, nothing applied\n", after->applied);
  } else {
    std::string applied;
    for (int v : before.pending) applied += (applied.empty() ? "" : " ") + std::to_string(v);
    std::printf("applied migration(s) %s: schema version %d\n", applied.c_str(), after->applied);
  }
  return 0;
}

}  // namespace threadmill::ctl
