// migrate_store_command.cc - see migrate_store_command.h.
#include "ctl/migrate_store_command.h"

#include <cstdio>

#include "ctl/output.h"
#include "ctl/terminal_text.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"
#include "store/postgresql/pg_migrate_lmdb.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::ctl {
namespace {

constexpr const char* kMigrateUsage =
    "usage: threadmillctl migrate-store --from lmdb [--path DIR] [--dry-run]";

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "threadmillctl: %s\n", TerminalText(message, true).c_str());
  return code;
}

}  // namespace

int RunMigrateStoreCommand(const config::Config& config, const std::vector<std::string>& words,
                           bool json) {
  std::string from, path = config.store.path;
  bool dry_run = false;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--dry-run") {
      dry_run = true;
    } else if ((w == "--from" || w == "--path") && i + 1 < words.size()) {
      (w == "--from" ? from : path) = words[++i];
    } else {
      return Fail(kMigrateUsage, 2);
    }
  }
  if (from != "lmdb") return Fail(kMigrateUsage, 2);
  if (config.store.backend != "postgresql") {
    return Fail("migrate-store copies into PostgreSQL, but [store] backend is \"" +
                    config.store.backend + "\": set backend = \"postgresql\" and dsn first",
                1);
  }
  store::EnvOptions options = runtime::StoreOptions(config);
  options.path = path;
  options.read_only = true;
  auto lmdb = store::Environment::Open(options);
  if (!lmdb.ok()) {
    return Fail("cannot open the LMDB store at " + path + ": " + lmdb.error().message, 1);
  }
  auto pool = store::pg::PgPool::Open(config.store.dsn);
  if (!pool.ok()) return Fail(pool.error().message, 1);
  auto counts = store::pg::MigrateFromLmdb(*lmdb, *pool, dry_run);
  if (!counts.ok()) return Fail("migrate-store: " + counts.error().message, 1);
  if (json) {
    nlohmann::ordered_json out = {{"from", path}, {"dry_run", dry_run}};
    nlohmann::ordered_json kinds = nlohmann::ordered_json::array();
    for (const auto& c : *counts) {
      kinds.push_back(
          {{"kind", c.kind}, {"found", c.found}, {"copied", c.copied}, {"skipped", c.skipped}});
    }
    out["kinds"] = kinds;
    Print(out, true);
    return 0;
  }
  std::printf("%s from the LMDB store at %s into PostgreSQL:\n",
              dry_run ? "dry run, would copy" : "copied", TerminalText(path, true).c_str());
  for (const auto& c : *counts) {
    std::printf("  %-13s %10llu in LMDB, %10llu %s", c.kind.c_str(),
                static_cast<unsigned long long>(c.found), static_cast<unsigned long long>(c.copied),
                dry_run ? "missing in PostgreSQL" : "copied");
    if (c.skipped > 0) {
      std::printf(", %llu undecodable skipped", static_cast<unsigned long long>(c.skipped));
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace threadmill::ctl
