// draft_commands.cc - threadmillctl drafts list|show|approve|reject.
#include <cstdio>

#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "ctl/store_access.h"
#include "log/logger.h"
#include "runtime/drafts.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"

namespace threadmill::ctl {
namespace {

using runtime_cli::Fail;

nlohmann::ordered_json DraftJson(const runtime::Draft& d, bool full) {
  nlohmann::ordered_json out = {{"id", d.id},
                                {"state", d.state},
                                {"handler", d.handler},
                                {"created", d.created},
                                {"to", d.facts.envelope_sender},
                                {"from", d.facts.recipient},
                                {"subject", d.facts.subject},
                                {"in_reply_to", "<" + d.facts.message_id + ">"},
                                {"reply", d.reply_id.empty() ? "" : "<" + d.reply_id + ">"},
                                {"last_error", d.last_error}};
  if (full) {
    out["updated"] = d.updated;
    out["job"] = d.job_id;
    out["queue_id"] = d.queue_id;
    out["thread"] = d.facts.thread_id;
    out["dmarc"] = d.facts.dmarc;
    out["text"] = d.content.text;
    out["html"] = d.content.html;
  }
  return out;
}

std::shared_ptr<store::Environment> OpenEnv(const config::Config& config, bool write) {
  return OpenEnvironment(config, write);
}

}  // namespace

int RunDraftCommand(const config::Config& config, const std::vector<std::string>& words,
                    bool json) {
  if (words.size() < 2) return Fail("drafts needs list|show|approve|reject", 2);
  const std::string& sub = words[1];
  if (sub == "list") {
    runtime::DraftStore drafts(OpenEnv(config, false));
    auto list = drafts.List(100000, words.size() > 2 ? words[2] : "");
    if (!list.ok()) return Fail(list.error().message);
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& d : *list) out.push_back(DraftJson(d, false));
    if (json) {
      Print(out, true);
    } else {
      for (const auto& d : *list) {
        std::printf("%s  %-18s  %-12s  to=%s  %s\n", TerminalText(d.id).c_str(),
                    TerminalText(d.state).c_str(), TerminalText(d.handler).c_str(),
                    TerminalText(d.facts.envelope_sender).c_str(),
                    TerminalText(d.facts.subject).c_str());
      }
    }
    return 0;
  }
  if (words.size() != 3) return Fail("drafts " + sub + " needs one DRAFT_ID", 2);
  const std::string& id = words[2];
  if (sub == "show") {
    runtime::DraftStore drafts(OpenEnv(config, false));
    auto d = drafts.Get(id);
    if (!d.ok()) return Fail(d.error().message);
    if (!d->has_value()) return Fail("draft " + id + " not found");
    Print(DraftJson(**d, true), json);
    return 0;
  }
  if (sub == "approve") {
    runtime::RuntimeConfig rt = runtime::ParseRuntimeConfig(config);
    auto env = OpenEnv(config, true);
    runtime::DraftStore drafts(env);
    reply::Replier replier(env, rt.reply);
    auto sent = drafts.Approve(id, replier);
    if (!sent.ok()) return Fail("draft " + id + " not sent: " + sent.error().message);
    auto d = drafts.Get(id);
    if (d.ok() && d->has_value()) Print(DraftJson(**d, false), json);
    return 0;
  }
  if (sub == "reject") {
    runtime::DraftStore drafts(OpenEnv(config, true));
    Status st = drafts.Reject(id);
    if (!st.ok()) return Fail(st.error().message);
    auto d = drafts.Get(id);
    if (d.ok() && d->has_value()) Print(DraftJson(**d, false), json);
    return 0;
  }
  return Fail("unknown drafts command \"" + sub + "\"", 2);
}

}  // namespace threadmill::ctl
