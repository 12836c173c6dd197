// fake_sendmail.h - a stand-in for /usr/sbin/sendmail in UNIT tests only (the end-to-end
// tests reinject through the real Postfix sendmail). The script appends its argv (one line)
// and the message it reads on stdin to files in a directory, and exits with the status read
// from DIR/status (0 when absent), so tests can make it fail.
#pragma once

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace threadmill::testing {

class FakeSendmail {
 public:
  explicit FakeSendmail(std::string dir) : dir_(std::move(dir)) {
    path_ = dir_ + "/sendmail";
    std::ofstream(path_) << "#!/bin/sh\n"
                            "d='" +
                                dir_ +
                                "'\n"
                                "n=$(ls \"$d\"/msg.* 2>/dev/null | wc -l)\n"
                                "echo \"$@\" >> \"$d/args\"\n"
                                "cat > \"$d/msg.$n\"\n"
                                "[ -f \"$d/sleep\" ] && sleep \"$(cat \"$d/sleep\")\"\n"
                                "[ -f \"$d/status\" ] && { echo 'fake failure' >&2; exit \"$(cat "
                                "\"$d/status\")\"; }\n"
                                "exit 0\n";
    chmod(path_.c_str(), 0755);
  }
  const std::string& path() const { return path_; }
  void SetStatus(int status) {
    if (status == 0) {
      std::remove((dir_ + "/status").c_str());
    } else {
      std::ofstream(dir_ + "/status") << status;
    }
  }
  void SetSleep(int seconds) { std::ofstream(dir_ + "/sleep") << seconds; }
  std::vector<std::string> Args() const {
    std::ifstream in(dir_ + "/args");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
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

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace threadmill::testing
