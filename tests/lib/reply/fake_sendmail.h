// fake_sendmail.h - a stand-in for /usr/sbin/sendmail in UNIT tests only (the end-to-end
// tests reinject through the real Postfix sendmail), and a stand-in for the MTA's echo.
//
// FakeSendmail is a real executable (a shell script) that appends its argv (one line) to
// DIR/args and then, as told by files in DIR:
//   early   exit with that status BEFORE reading the message (nothing queued)
//   sleep   seconds to wait after reading (a slow sendmail)
//   status  exit with that status AFTER "queueing" (0 when absent)
// "Queueing" is writing the message it read on stdin to DIR/msg.N (atomically: a temporary
// file renamed), N counting from 0. Each run also appends "start PID" and "end PID" lines to
// DIR/runs, so tests see sendmail processes that were killed.
//
// FakeMta plays the MTA passing each queued message back through threadmill's milter: a
// thread that records every DIR/msg.N's Message-ID as outbound with a queue id in the thread
// store, as Processor::Record does for a reinjected reply (the "outbound echo").
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mail/header.h"
#include "mail/msgid.h"
#include "store/thread_store.h"

namespace threadmill::testing {

class FakeSendmail {
 public:
  explicit FakeSendmail(std::string dir) : dir_(std::move(dir)) {
    path_ = dir_ + "/sendmail";
    std::ofstream(path_) << "#!/bin/sh\n"
                            "d='" +
                                dir_ +
                                "'\n"
                                "echo \"$@\" >> \"$d/args\"\n"
                                "echo \"start $$\" >> \"$d/runs\"\n"
                                "[ -f \"$d/early\" ] && { echo 'fake early failure' >&2; exit "
                                "\"$(cat \"$d/early\")\"; }\n"
                                "cat > \"$d/tmp.$$\"\n"
                                "n=$(ls \"$d\"/msg.* 2>/dev/null | wc -l)\n"
                                "mv \"$d/tmp.$$\" \"$d/msg.$n\"\n"
                                "[ -f \"$d/sleep\" ] && sleep \"$(cat \"$d/sleep\")\"\n"
                                "echo \"end $$\" >> \"$d/runs\"\n"
                                "[ -f \"$d/status\" ] && { echo 'fake failure' >&2; exit \"$(cat "
                                "\"$d/status\")\"; }\n"
                                "exit 0\n";
    chmod(path_.c_str(), 0755);
  }
  const std::string& path() const { return path_; }
  void SetStatus(int status) { SetFile("status", status); }
  void SetEarlyFailure(int status) { SetFile("early", status); }
  void SetSleep(int seconds) { SetFile("sleep", seconds); }
  std::vector<std::string> Args() const { return Lines("args"); }
  std::vector<std::string> Runs() const { return Lines("runs"); }
  std::vector<std::string> Messages() const {
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      std::ifstream in(dir_ + "/msg." + std::to_string(i));
      if (!in) break;
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
    return out;
  }
  const std::string& dir() const { return dir_; }

 private:
  void SetFile(const std::string& name, int value) {
    if (value == 0) {
      std::remove((dir_ + "/" + name).c_str());
    } else {
      std::ofstream(dir_ + "/" + name) << value;
    }
  }
  std::vector<std::string> Lines(const std::string& name) const {
    std::ifstream in(dir_ + "/" + name);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::string dir_;
  std::string path_;
};

class FakeMta {
 public:
  FakeMta(const FakeSendmail& sendmail, std::shared_ptr<store::Environment> env)
      : sendmail_(sendmail), threads_(std::move(env)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        Poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~FakeMta() {
    stop_ = true;
    thread_.join();
  }
  // How many queued messages were echoed so far.
  size_t echoed() const { return seen_; }

 private:
  void Poll() {
    auto messages = sendmail_.Messages();
    for (; seen_ < messages.size(); ++seen_) {
      auto split = mail::SplitMessage(messages[seen_]);
      const auto* id = split.headers.Find("Message-ID");
      if (!id) continue;
      store::MessageRecord rec;
      rec.msgid = mail::ParseMsgId(id->value).id;
      rec.direction = store::Direction::kOutbound;
      rec.queue_id = "FAKEQ" + std::to_string(seen_);
      rec.time = 1;
      (void)threads_.RecordMessage(rec);
    }
  }
  const FakeSendmail& sendmail_;
  store::ThreadStore threads_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> seen_{0};
  std::thread thread_;
};

}  // namespace threadmill::testing
