// main.cc - threadmillctl: inspect threadmill's store from the command line.
//
// DESCRIPTION
//   Opens the same LMDB environment as the daemon (read-only; safe while it runs) and prints
//   records as text or, with --json, as JSON for scripts. Exit status: 0 found, 1 not found or
//   error, 2 usage.
#include <getopt.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/ascii.h"
#include "config/config.h"
#include "ctl/db_command.h"
#include "ctl/migrate_store_command.h"
#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "ctl/stats_command.h"
#include "admin/store_access.h"
#include "mail/header.h"
#include "mail/msgid.h"
#include "store/environment.h"
#include "store/thread_store.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

constexpr const char* kUsage =
    "usage: threadmillctl [-c FILE] [--json] COMMAND [ARGS]\n"
    "commands:\n"
    "  lookup MSGID        the thread, direction and time recorded for a Message-ID\n"
    "  thread THREAD_ID    a thread and its messages, oldest first\n"
    "  check-config        load the configuration and report problems\n"
    "  queue list [STATE] | queue show|retry|park JOB_ID      handler jobs\n"
    "  drafts list [STATE] | drafts show|approve|reject ID [--note TEXT]\n"
    "                                                       replies awaiting approval\n"
    "  drafts edit ID [--file F] [--note TEXT]              new text (else $EDITOR)\n"
    "  kv list HANDLER [PREFIX] [--after KEY] [--limit N] | kv get HANDLER KEY\n"
    "  kv put HANDLER KEY VALUE|--file F [--ttl SECONDS] | kv delete HANDLER KEY\n"
    "                                                       a handler's records\n"
    "  replies list | replies done|release REPLY_MSGID       replies still owed (uncertain)\n"
    "  stats               store figures, and the daemon's counters when [metrics] listen is set\n"
    "  migrate-store --from lmdb [--path DIR] [--dry-run]\n"
    "                      copy an LMDB store's threads and reply ledger into PostgreSQL\n"
    "  db status           the shared database: where, reachable, schema applied/expected,\n"
    "                      pending migrations (exit 1 when unreachable or not up to date)\n"
    "  db migrate          apply the pending migrations (lmdb: nothing to do)\n"
    "options:\n"
    "  -c FILE             configuration (default /etc/threadmill/threadmill.conf)\n"
    "  --json              print JSON instead of text\n";

struct Args {
  std::string config_path = "/etc/threadmill/threadmill.conf";
  bool json = false;
  std::vector<std::string> words;
};

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "threadmillctl: %s\n", TerminalText(message, true).c_str());
  return code;
}

std::shared_ptr<store::ThreadStore> OpenStore(const config::Config& config) {
  return std::make_shared<store::ThreadStore>(OpenEnvironment(config, /*write=*/false));
}

int Lookup(const config::Config& config, const Args& args) {
  if (args.words.size() != 2) return Fail("lookup needs one MSGID", 2);
  // Normalized ids are stable in brackets (msgid.h): a bare one is looked up as <id>.
  std::string_view arg = ascii::Trim(args.words[1]);
  auto id = mail::ParseMsgId(arg.starts_with('<') ? std::string(arg) : mail::FormatMsgId(arg));
  if (id.id.empty()) return Fail("\"" + args.words[1] + "\" is not a Message-ID", 2);
  auto found = OpenStore(config)->FindMessage(id.id);
  if (!found.ok()) return Fail(found.error().message);
  if (!found->has_value()) return Fail("<" + id.id + "> is not in the store");
  Print(ToJson(**found), args.json);
  return 0;
}

int Thread(const config::Config& config, const Args& args) {
  if (args.words.size() != 2) return Fail("thread needs one THREAD_ID", 2);
  auto store = OpenStore(config);
  auto thread = store->FindThread(args.words[1]);
  if (!thread.ok()) return Fail(thread.error().message);
  if (!thread->has_value()) return Fail("thread " + args.words[1] + " is not in the store");
  auto messages = store->ThreadMessages(args.words[1]);
  if (!messages.ok()) return Fail(messages.error().message);
  nlohmann::ordered_json out = {{"thread", ToJson(**thread)},
                                {"messages", nlohmann::ordered_json::array()}};
  for (const auto& message : *messages) out["messages"].push_back(ToJson(message));
  Print(out, args.json);
  return 0;
}

int Run(const Args& args) {
  if (args.words.empty()) return Fail(std::string("no command\n") + kUsage, 2);
  std::shared_ptr<const config::Config> config;
  try {
    config = config::Load(args.config_path);
  } catch (const std::exception& e) {
    return Fail(std::string("configuration error: ") + e.what());
  }
  const std::string& command = args.words[0];
  try {
    if (command == "check-config") {
      std::printf("configuration %s is valid\n", args.config_path.c_str());
      return 0;
    }
    if (command == "lookup") return Lookup(*config, args);
    if (command == "thread") return Thread(*config, args);
    if (command == "queue") return RunQueueCommand(*config, args.words, args.json);
    if (command == "drafts") return RunDraftCommand(*config, args.words, args.json);
    if (command == "kv") return RunKvCommand(*config, args.words, args.json);
    if (command == "replies") return RunReplyCommand(*config, args.words, args.json);
    if (command == "stats") return RunStatsCommand(*config, args.json);
    if (command == "migrate-store") return RunMigrateStoreCommand(*config, args.words, args.json);
    if (command == "db") return RunDbCommand(*config, args.words, args.json);
  } catch (const std::exception& e) {
    return Fail(e.what());
  }
  return Fail("unknown command \"" + command + "\"\n" + kUsage, 2);
}

}  // namespace
}  // namespace threadmill::ctl

int main(int argc, char** argv) {
  threadmill::ctl::Args args;
  static option long_options[] = {{"json", no_argument, nullptr, 'j'},
                                  {"config", required_argument, nullptr, 'c'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+c:jh", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        args.config_path = optarg;
        break;
      case 'j':
        args.json = true;
        break;
      case 'h':
        std::fputs(threadmill::ctl::kUsage, stdout);
        return 0;
      default:
        std::fputs(threadmill::ctl::kUsage, stderr);
        return 2;
    }
  }
  for (int i = optind; i < argc; ++i) args.words.emplace_back(argv[i]);
  return threadmill::ctl::Run(args);
}
