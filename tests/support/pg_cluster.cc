// pg_cluster.cc - see pg_cluster.h.
#include "support/pg_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/unique_fd.h"

namespace threadmill::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The newest /usr/lib/postgresql/<N>/bin holding initdb, pg_ctl and postgres.
std::string FindBindir() {
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = entry.path().string() + "/bin";
    if (access((bin + "/initdb").c_str(), X_OK) != 0 ||
        access((bin + "/pg_ctl").c_str(), X_OK) != 0 ||
        access((bin + "/postgres").c_str(), X_OK) != 0) {
      continue;
    }
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) best_version = version, best = bin;
  }
  return best;
}

// A port of 127.0.0.1 that was free a moment ago (the kernel's pick).
int FreePort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  socklen_t len = sizeof addr;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

bool PgCluster::Run(const std::vector<std::string>& argv) {
  std::vector<std::string> full;
  if (as_postgres_) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (std::string& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string log = dir_ + "/commands.log";
  pid_t child = fork();
  if (child < 0) {
    error_ = "fork failed";
    return false;
  }
  if (child == 0) {
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out >= 0) dup2(out, 1), dup2(out, 2);
    if (devnull >= 0) dup2(devnull, 0);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  error_ = full[as_postgres_ ? 4 : 0] + " failed: " + ReadAll(log);
  return false;
}

bool PgCluster::Start() {
  const char* forced = getenv("THREADMILL_TEST_PG_BINDIR");
  bindir_ = forced ? (access((std::string(forced) + "/initdb").c_str(), X_OK) == 0 ? forced : "")
                   : FindBindir();
  if (bindir_.empty()) {
    skip_reason_ =
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
        "(install the postgresql package: scripts/install-deps)";
    return false;
  }
  std::string pattern = (fs::temp_directory_path() / "tm-pg-XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    error_ = "mkdtemp failed";
    return false;
  }
  dir_ = pattern;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      skip_reason_ = "running as root and there is no user postgres to run the server as";
      return false;
    }
    as_postgres_ = true;
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      error_ = "chown " + dir_ + " failed";
      return false;
    }
  }
  if (!Run({bindir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "tm", "-E", "UTF8",
            "--no-sync", "--no-instructions"})) {
    return false;
  }
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    int port = FreePort();
    if (port > 0 && StartOn(port)) {
      error_.clear();  // an earlier attempt's port was taken meanwhile: not an error now
      return true;
    }
  }
  return false;
}

bool PgCluster::StartOn(int port) {
  const std::string options = "-p " + std::to_string(port) + " -k " + dir_ +
                              " -c listen_addresses=127.0.0.1 -c fsync=off"
                              " -c synchronous_commit=off -c full_page_writes=off";
  if (!Run({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-o", options, "-l", dir_ + "/server.log",
            "-w", "-t", std::to_string(kStartTimeoutSeconds), "start"})) {
    error_ += ReadAll(dir_ + "/server.log");
    return false;
  }
  std::ifstream pidfile(dir_ + "/data/postmaster.pid");
  pidfile >> pid_;
  port_ = port;
  // pg_ctl -w waited for the server; make sure it is ours and answers on this port.
  const std::string dsn = Dsn();
  const auto deadline = Clock::now() + std::chrono::seconds(kStartTimeoutSeconds);
  while (PQping(dsn.c_str()) != PQPING_OK) {
    if (Clock::now() > deadline) {
      error_ = "server on port " + std::to_string(port) + " does not answer";
      StopServer();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool PgCluster::StartAgain() { return !dir_.empty() && port_ > 0 && StartOn(port_); }

void PgCluster::Stop() {
  StopServer();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

void PgCluster::StopServer() {
  if (pid_ > 0) {
    kill(pid_, SIGINT);  // fast shutdown
    const auto deadline = Clock::now() + std::chrono::seconds(kStopTimeoutSeconds);
    while (kill(pid_, 0) == 0 || errno != ESRCH) {
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
}

std::string PgCluster::Dsn(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=tm dbname=" + dbname +
         " connect_timeout=10";
}

std::string PgCluster::NewDatabase() {
  const std::string name = "tm_test_" + std::to_string(++databases_);
  PGconn* conn = PQconnectdb(Dsn().c_str());
  std::string failure;
  if (PQstatus(conn) != CONNECTION_OK) {
    failure = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) failure = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  if (!failure.empty()) {
    error_ = "CREATE DATABASE " + name + ": " + failure;
    return "";
  }
  return Dsn(name);
}

}  // namespace threadmill::testing
