// draft_commands.cc - threadmillctl drafts list|show|edit|approve|reject.
//
// edit takes the new text from --file F ("-" = standard input) or runs $VISUAL/$EDITOR (else
// vi) on a temporary file holding the current text; an unchanged or empty result changes
// nothing. edit/approve/reject take --note TEXT, recorded with the draft and logged. The
// decision (approve/reject, and expiries found on the way) is queued as a job for the
// draft's handler (on_draft_decision). Who decided: runtime::CurrentUnixUser(), taken before
// the store is opened (which drops root to the [milter] user). Their key=value log lines go
// to the daemon's [log] target.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "admin/actions.h"
#include "admin/store_access.h"
#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "log/logger.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

using runtime_cli::Fail;

constexpr const char* kDraftsUsage =
    "drafts needs list [STATE] | show ID | edit ID [--file F] [--note TEXT] | "
    "approve ID [--note TEXT] | reject ID [--note TEXT]";

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
                                {"last_error", d.last_error},
                                {"decision", d.decision},
                                {"edited", d.edited}};
  if (full) {
    out["updated"] = d.updated;
    out["job"] = d.job_id;
    out["queue_id"] = d.queue_id;
    out["thread"] = d.facts.thread_id;
    out["dmarc"] = d.facts.dmarc;
    out["text"] = d.content.text;
    out["html"] = d.content.html;
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    for (const auto& e : d.history) {
      history.push_back({{"action", e.action}, {"by", e.by}, {"at", e.at}, {"note", e.note}});
    }
    out["history"] = std::move(history);
  }
  return out;
}

// The words after the command with --note/--file taken out. False on a malformed option.
struct DraftArgs {
  std::vector<std::string> words;
  std::string note;
  std::optional<std::string> file;
};
bool ParseDraftArgs(const std::vector<std::string>& in, DraftArgs* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == "--note" || in[i] == "--file") {
      if (i + 1 >= in.size()) return false;
      const bool note = in[i] == "--note";
      const std::string& value = in[++i];
      if (note) {
        out->note = value;
      } else {
        out->file = value;
      }
    } else if (in[i].rfind("--note=", 0) == 0) {
      out->note = in[i].substr(7);
    } else if (in[i].rfind("--file=", 0) == 0) {
      out->file = in[i].substr(7);
    } else {
      out->words.push_back(in[i]);
    }
  }
  return true;
}

Result<std::string> ReadAll(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + path);
    text << in.rdbuf();
  }
  return text.str();
}

// Runs the user's editor on `text`; returns the edited text.
Result<std::string> EditInEditor(const std::string& text) {
  const char* editor = std::getenv("VISUAL");
  if (!editor || !*editor) editor = std::getenv("EDITOR");
  if (!editor || !*editor) editor = "vi";
  char path[] = "/tmp/threadmill-draft-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot create a temporary file");
  bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) {
    unlink(path);
    return MakeError(ErrorCode::kInternal, "cannot write a temporary file");
  }
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, path, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    unlink(path);
    return MakeError(ErrorCode::kInternal, std::string("editor \"") + editor + "\" failed");
  }
  auto edited = ReadAll(path);
  unlink(path);
  return edited;
}

}  // namespace

int RunDraftCommand(const config::Config& config, const std::vector<std::string>& words,
                    bool json) {
  DraftArgs args;
  if (!ParseDraftArgs(words, &args) || args.words.size() < 2) return Fail(kDraftsUsage, 2);
  const std::string& sub = args.words[1];
  if (sub == "list") {
    runtime::DraftStore drafts(OpenEnvironment(config, false));
    auto list = drafts.List(100000, args.words.size() > 2 ? args.words[2] : "");
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
  if (args.words.size() != 3) return Fail("drafts " + sub + " needs one DRAFT_ID", 2);
  const std::string& id = args.words[2];
  if (sub == "show") {
    runtime::DraftStore drafts(OpenEnvironment(config, false));
    auto d = drafts.Get(id);
    if (!d.ok()) return Fail(d.error().message);
    if (!d->has_value()) return Fail("draft " + id + " not found");
    Print(DraftJson(**d, true), json);
    return 0;
  }
  if (sub != "edit" && sub != "approve" && sub != "reject") {
    return Fail("unknown drafts command \"" + sub + "\"", 2);
  }
  if (args.file && sub != "edit") return Fail("--file is for drafts edit", 2);
  const std::string who = runtime::CurrentUnixUser();  // before the store drops root
  // The decision lines (and the reply's) go where the daemon logs: [log], opened as root.
  log::Configure(config.log);
  std::optional<std::string> new_text;
  if (sub == "edit" && args.file) {
    auto text = ReadAll(*args.file);
    if (!text.ok()) return Fail(text.error().message);
    new_text = std::move(*text);
  }
  admin::Actions actions(config, OpenEnvironment(config, true));
  // A draft past its expiry is expired now, not approved or edited (Actions does it too).
  actions.ExpireDue();
  Result<runtime::Draft> d = MakeError(ErrorCode::kInternal, "no action");
  if (sub == "edit") {
    if (!new_text) {
      auto current = actions.drafts().Get(id);
      if (!current.ok()) return Fail(current.error().message);
      if (!current->has_value()) return Fail("draft " + id + " not found");
      if ((*current)->state != "draft_for_approval") {
        return Fail("draft " + id + " is " + (*current)->state);
      }
      auto edited = EditInEditor((*current)->content.text);
      if (!edited.ok()) return Fail(edited.error().message);
      if (edited->empty() || *edited == (*current)->content.text) {
        std::fprintf(stderr, "threadmillctl: draft %s unchanged\n", id.c_str());
        return 0;
      }
      new_text = std::move(*edited);
    }
    d = actions.EditDraft(id, *new_text, who, args.note);
    if (!d.ok()) return Fail(d.error().message);
  } else if (sub == "approve") {
    d = actions.ApproveDraft(id, who, args.note);
    if (!d.ok()) return Fail("draft " + id + " not sent: " + d.error().message);
  } else {
    d = actions.RejectDraft(id, who, args.note);
    if (!d.ok()) return Fail(d.error().message);
  }
  Print(DraftJson(*d, false), json);
  return 0;
}

}  // namespace threadmill::ctl
