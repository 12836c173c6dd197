#include "milter/process.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/chown_tree.h"
#include "common/safe_open.h"
#include "common/unique_fd.h"
#include "log/logger.h"
#include "store/environment.h"

namespace threadmill::milter {
namespace {

std::runtime_error SystemError(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

struct Ids {
  uid_t uid = 0;
  gid_t gid = 0;
};

gid_t LookupGroup(const std::string& name, const std::string& key, const std::string& hint = "") {
  group* gr = getgrnam(name.c_str());
  if (!gr) {
    throw std::runtime_error("group \"" + name + "\" does not exist: create it or set [milter] " +
                             key + hint);
  }
  return gr->gr_gid;
}

// The socket and its directory: the service user (or whoever we are), [milter] group, and
// socket_group when set.
Ids SocketIds(const config::MilterConfig& milter, const PrivilegePlan& plan) {
  Ids ids{plan.uid, plan.gid};
  if (plan.action != PrivilegePlan::Action::kDrop) {
    ids = {geteuid(), getegid()};
    if (!milter.group.empty()) ids.gid = LookupGroup(milter.group, "group");
  }
  if (!milter.socket_group.empty()) {
    ids.gid = LookupGroup(milter.socket_group, "socket_group", " (\"\" with Sendmail)");
  }
  return ids;
}

bool ChangesOwnership(const config::MilterConfig& milter) {
  return geteuid() == 0 &&
         (!milter.user.empty() || !milter.group.empty() || !milter.socket_group.empty());
}

// Root-phase paths: links are followed only when nobody but root (or, when not started as
// root, ourselves) can change them (safe_open.h).
PathPolicy RootPhasePolicy() {
  PathPolicy policy;
  policy.trusted_uid = geteuid();
  return policy;
}

UniqueFd OpenOrThrow(const std::string& path, int flags, const std::string& what, mode_t mode = 0) {
  auto fd = OpenPath(path, flags, RootPhasePolicy(), mode);
  if (!fd.ok()) throw std::runtime_error(what + ": " + fd.error().message);
  return std::move(*fd);
}

void CheckOk(const Status& status, const std::string& what) {
  if (!status.ok()) throw std::runtime_error(what + ": " + status.error().message);
}

}  // namespace

PrivilegePlan PlanPrivileges(const config::MilterConfig& milter) {
  auto plan = PlanPrivilegeDrop({milter.user, milter.group}, geteuid());
  if (!plan.ok()) throw std::runtime_error(plan.error().message);
  return *plan;
}

void Daemonize() {
  pid_t pid = fork();
  if (pid < 0) throw SystemError("fork");
  if (pid > 0) _exit(0);
  if (setsid() < 0) throw SystemError("setsid");
  pid = fork();
  if (pid < 0) throw SystemError("fork");
  if (pid > 0) _exit(0);
  UniqueFd null(open("/dev/null", O_RDWR));
  if (null) {
    dup2(null.get(), STDIN_FILENO);
    dup2(null.get(), STDOUT_FILENO);
    dup2(null.get(), STDERR_FILENO);
    if (null.get() <= STDERR_FILENO) null.release();  // now one of the standard descriptors
  }
  if (chdir("/") != 0) throw SystemError("chdir /");
}

void WritePidFile(const std::string& path) {
  std::string absolute = std::filesystem::absolute(path).string();
  std::string what = "cannot write pid file " + path;
  // O_NOFOLLOW and no O_TRUNC: a link or a hard link planted in the pid file's place must
  // not make root truncate or write another file.
  UniqueFd fd = OpenOrThrow(absolute, O_RDWR | O_CREAT, what, 0644);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw SystemError(what);
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid()) {
    throw std::runtime_error(what + ": not a regular file of ours with a single link (owner uid " +
                             std::to_string(st.st_uid) + ", " + std::to_string(st.st_nlink) +
                             " links): remove it");
  }
  char buf[32] = {};
  ssize_t n = pread(fd.get(), buf, sizeof buf - 1, 0);
  long old = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  if (old > 0 && old != getpid() && kill(static_cast<pid_t>(old), 0) == 0) {
    throw std::runtime_error("pid file " + path + " names a running process (" +
                             std::to_string(old) + "): is threadmill already running?");
  }
  std::string text = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 ||
      pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw SystemError(what);
  }
}

void PrepareSocketPath(const config::MilterConfig& milter, const PrivilegePlan& plan) {
  if (milter.socket.kind != config::SocketSpec::Kind::kUnix) return;
  std::filesystem::path path(milter.socket.path);
  std::string dir_path = path.parent_path().string();
  std::error_code ec;
  bool created = std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    throw std::runtime_error("cannot create socket directory " + dir_path + ": " + ec.message());
  // The directory belongs to the service user from the first run on: work on descriptors.
  UniqueFd dir = OpenOrThrow(dir_path, O_RDONLY | O_DIRECTORY, "socket directory");
  // A directory we made is ours and the MTA's only (Sendmail also refuses a socket path with
  // a group- or world-writable directory).
  if (created && fchmod(dir.get(), 0750) != 0) throw SystemError("chmod " + dir_path);
  if (ChangesOwnership(milter)) {
    Ids ids = SocketIds(milter, plan);
    if (fchown(dir.get(), ids.uid, ids.gid) != 0) throw SystemError("chown " + dir_path);
  }
  std::string name = path.filename().string();
  struct stat st;
  if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error(path.string() +
                               " exists and is not a socket: remove it or change [milter] socket");
    }
    unlinkat(dir.get(), name.c_str(), 0);  // stale socket of an earlier run
  }
}

void SecureSocket(const config::MilterConfig& milter, const PrivilegePlan& plan) {
  if (milter.socket.kind != config::SocketSpec::Kind::kUnix) return;
  const std::string& path = milter.socket.path;
  // O_PATH | O_NOFOLLOW: the socket libmilter bound, not whatever a link there leads to.
  UniqueFd sock = OpenOrThrow(path, O_PATH, "cannot secure socket " + path);
  struct stat st;
  if (fstat(sock.get(), &st) != 0) throw SystemError("stat " + path);
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error(path + " is no longer a socket: refusing to change its mode");
  }
  CheckOk(ChmodFd(sock.get(), milter.socket_mode), "chmod " + path);
  if (ChangesOwnership(milter)) {
    Ids ids = SocketIds(milter, plan);
    CheckOk(ChownFd(sock.get(), ids.uid, ids.gid), "chown " + path);
  }
}

void PrepareStore(const config::Config& config, const PrivilegePlan& plan) {
  if (plan.action != PrivilegePlan::Action::kDrop) return;
  {
    store::EnvOptions options;
    options.path = config.store.path;
    options.map_size_bytes = config.store.map_size_mb << 20;
    options.max_map_size_bytes = config.store.max_map_size_mb << 20;
    auto env = store::Environment::Open(options);  // creates the directory and its files
    if (!env.ok()) {
      throw std::runtime_error("cannot open the store at " + options.path + ": " +
                               env.error().message);
    }
  }  // closed again: no LMDB environment may cross the supervisor's fork()
  std::string spool = config.store.path + "/spool";
  if (mkdir(spool.c_str(), 0750) != 0 && errno != EEXIST) throw SystemError("mkdir " + spool);
  ChownStore(config, plan);
}

void ChownStore(const config::Config& config, const PrivilegePlan& plan) {
  if (plan.action != PrivilegePlan::Action::kDrop) return;
  auto report = ChownTree(config.store.path, plan.uid, plan.gid, RootPhasePolicy());
  if (!report.ok()) {
    throw std::runtime_error("cannot hand the store to user " + plan.user + ": " +
                             report.error().message);
  }
  for (const std::string& skipped : report->skipped) {
    log::Get().warn("store handed to user {}: {}", plan.user, skipped);
  }
}

void SetNoDelayOnListener(const config::MilterConfig& milter) {
  if (milter.socket.kind == config::SocketSpec::Kind::kUnix) return;
  // libmilter keeps its listening descriptor private: find it among ours.
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(entry.path().filename().c_str());
    int listening = 0;
    socklen_t len = sizeof listening;
    sockaddr_storage address{};
    socklen_t address_len = sizeof address;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_len) != 0) continue;
    int port = address.ss_family == AF_INET
                   ? ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port)
                   : ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    if (port != milter.socket.port) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

void NotifyReady() {
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t length = strnlen(path, sizeof address.sun_path);
  if (length >= sizeof address.sun_path) return;
  std::memcpy(address.sun_path, path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  const char message[] = "READY=1";
  sendto(fd.get(), message, sizeof message - 1, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
}

}  // namespace threadmill::milter
