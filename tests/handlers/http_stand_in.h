// http_stand_in.h - a loopback HTTP server for the shipped handlers' tests
// (tests/handlers/<name>/): a Python script (webhook/server.py, llm/stand_in.py) started once
// per test suite, which prints the port it listens on and then records every request it gets,
// one JSON object a line, in a log file the test reads back.
//
// LIMITS
//   Runs the first `python3` on PATH. When the script cannot be started or prints no port,
//   port() is 0 (the suite's SetUp asserts it is not); the script is stopped with SIGTERM.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace threadmill::test {

class HttpStandIn {
 public:
  // Runs `python3 script <log> extra_args...`, the log being `log_name`_<pid>.jsonl in the
  // test's temporary directory, and waits for the port it prints.
  HttpStandIn(const std::string& script, const std::string& log_name,
              const std::vector<std::string>& extra_args = {}) {
    log_ = ::testing::TempDir() + log_name + "_" + std::to_string(getpid()) + ".jsonl";
    std::remove(log_.c_str());
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> args = {"python3", script, log_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      pid_ = -1;
      close(fds[0]);
      return;
    }
    std::string line;  // the port and a newline, once it listens
    char c;
    while (line.size() < 16 && read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    close(fds[0]);
    port_ = std::atoi(line.c_str());
  }
  ~HttpStandIn() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::remove(log_.c_str());
  }
  HttpStandIn(const HttpStandIn&) = delete;
  HttpStandIn& operator=(const HttpStandIn&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Every request recorded so far, in arrival order.
  std::vector<nlohmann::json> Requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

}  // namespace threadmill::test
