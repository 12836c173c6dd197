// reply_commands.cc - threadmillctl replies list | replies done|release REPLY_MSGID.
//
// DESCRIPTION
//   The reply ledger's entries still owed (reply/ledger.h): pending, reinjecting, and
//   uncertain ones - replies that sendmail read but whose outcome nobody knows and that never
//   passed back through the milter. threadmill never sends an uncertain reply again on its
//   own; the operator checks the MTA's log and queue for its Message-ID, then
//     replies done REPLY_MSGID      it left (or must not be sent): mark it sent
//     replies release REPLY_MSGID   it never left: back to pending; `queue retry JOB` of the
//                                   parked job sends it (same message, same Message-ID)
//   A reply whose echo came after it was called uncertain (e.g. Postfix's pickup rescanned
//   maildrop only after threadmill's wait) is listed with the echo's queue id, and release
//   refuses it: the MTA has it, sending it again would be the duplicate (reply/echo.h).
//
// LIMITS
//   Scans the whole `replied` database (an operator command, not a hot path).
#include <cstdio>
#include <ctime>
#include <iostream>

#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "admin/store_access.h"
#include "mail/msgid.h"
#include "reply/echo.h"
#include "reply/ledger.h"
#include "store/thread_store.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

using runtime_cli::Fail;

constexpr size_t kListLimit = 10000;

std::string Rcpts(const std::vector<std::string>& rcpts) {
  std::string out;
  for (const auto& r : rcpts) out += (out.empty() ? "" : ",") + r;
  return out;
}

int List(const config::Config& config, bool json) {
  auto env = OpenEnvironment(config, /*write=*/false);
  reply::ReplyLedger ledger(env);
  store::ThreadStore threads(env);
  auto owed = ledger.ListOwed(kListLimit);
  if (!owed.ok()) return Fail(owed.error().message);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& o : *owed) {
    out.push_back({{"reply", mail::FormatMsgId(o.entry.reply_id)},
                   {"state", o.entry.state},
                   {"kind", o.ref.ns.rfind("once", 0) == 0 ? "reply" : "send"},
                   {"handler", o.entry.handler},
                   {"to", Rcpts(o.entry.recipients)},
                   {"time", o.entry.time},
                   {"reinjected", o.entry.reinject_time},
                   {"echo", reply::OutboundEcho(threads, o.entry.reply_id)}});
  }
  if (json) {
    Print(out, true);
  } else {
    for (const auto& row : out) {
      std::cout << row["state"].get<std::string>() << "\t" << row["reply"].get<std::string>()
                << "\t" << row["kind"].get<std::string>() << "\t"
                << row["handler"].get<std::string>() << "\t" << row["to"].get<std::string>();
      const std::string echo = row["echo"].get<std::string>();
      if (!echo.empty()) std::cout << "\tpassed the MTA as " << echo;
      std::cout << "\n";
    }
  }
  return 0;
}

int Change(const config::Config& config, const std::string& what, const std::string& id_text) {
  std::string id = mail::ParseMsgId(id_text).id;
  if (id.empty()) return Fail("\"" + id_text + "\" is not a Message-ID", 2);
  auto env = OpenEnvironment(config, /*write=*/true);
  reply::ReplyLedger ledger(env);
  auto owed = ledger.ListOwed(kListLimit);
  if (!owed.ok()) return Fail(owed.error().message);
  for (const auto& o : *owed) {
    if (o.entry.reply_id != id) continue;
    if (what == "release" && o.entry.state == "reinjecting") {
      return Fail("<" + id + "> is being reinjected; wait for its job to settle it");
    }
    if (what == "release") {
      std::string echo = reply::OutboundEcho(store::ThreadStore(env), id);
      if (!echo.empty()) {
        return Fail("<" + id + "> passed back through threadmill as the MTA's queue id " + echo +
                    ": it left; `threadmillctl replies done " + id_text + "` marks it sent");
      }
    }
    Status st;
    if (what == "done") {
      st = ledger.MarkDone(o.ref);
    } else {
      reply::LedgerEntry e = o.entry;
      e.state = "pending";
      e.sendmail_pid = 0;
      e.sendmail_start = 0;
      st = ledger.Update(o.ref, e);
    }
    if (!st.ok()) return Fail(st.error().message);
    std::printf(
        "<%s>: %s\n", id.c_str(),
        what == "done" ? "marked sent" : "pending again; `threadmillctl queue retry JOB` sends it");
    return 0;
  }
  return Fail("no reply <" + id + "> is owed");
}

}  // namespace

int RunReplyCommand(const config::Config& config, const std::vector<std::string>& words,
                    bool json) {
  if (words.size() == 2 && words[1] == "list") return List(config, json);
  if (words.size() == 3 && (words[1] == "done" || words[1] == "release")) {
    return Change(config, words[1], words[2]);
  }
  return Fail("replies needs list, or done|release REPLY_MSGID", 2);
}

}  // namespace threadmill::ctl
