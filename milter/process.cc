#include "milter/process.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace threadmill::milter {
namespace {

std::runtime_error SystemError(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

struct Ids {
  uid_t uid = 0;
  gid_t gid = 0;
};

Ids LookupUser(const config::MilterConfig& milter) {
  Ids ids{getuid(), getgid()};
  if (!milter.user.empty()) {
    passwd* pw = getpwnam(milter.user.c_str());
    if (!pw) {
      throw std::runtime_error("user \"" + milter.user +
                               "\" does not exist: create it or set [milter] user");
    }
    ids = {pw->pw_uid, pw->pw_gid};
  }
  if (!milter.group.empty()) {
    group* gr = getgrnam(milter.group.c_str());
    if (!gr) {
      throw std::runtime_error("group \"" + milter.group +
                               "\" does not exist: create it or set [milter] group");
    }
    ids.gid = gr->gr_gid;
  }
  return ids;
}

// The socket and its directory: the service user, and socket_group when set.
Ids SocketIds(const config::MilterConfig& milter) {
  Ids ids = LookupUser(milter);
  if (!milter.socket_group.empty()) {
    group* gr = getgrnam(milter.socket_group.c_str());
    if (!gr) {
      throw std::runtime_error("group \"" + milter.socket_group +
                               "\" does not exist: create it or set [milter] socket_group "
                               "(\"\" with Sendmail)");
    }
    ids.gid = gr->gr_gid;
  }
  return ids;
}

bool ChangesOwnership(const config::MilterConfig& milter) {
  return geteuid() == 0 &&
         (!milter.user.empty() || !milter.group.empty() || !milter.socket_group.empty());
}

}  // namespace

void Daemonize() {
  pid_t pid = fork();
  if (pid < 0) throw SystemError("fork");
  if (pid > 0) _exit(0);
  if (setsid() < 0) throw SystemError("setsid");
  pid = fork();
  if (pid < 0) throw SystemError("fork");
  if (pid > 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  if (chdir("/") != 0) throw SystemError("chdir /");
}

void WritePidFile(const std::string& path) {
  std::ifstream existing(path);
  pid_t old = 0;
  if (existing >> old && old > 0 && old != getpid() && kill(old, 0) == 0) {
    throw std::runtime_error("pid file " + path + " names a running process (" +
                             std::to_string(old) + "): is threadmill already running?");
  }
  std::ofstream out(path, std::ios::trunc);
  if (!(out << getpid() << '\n')) {
    throw std::runtime_error("cannot write pid file " + path +
                             ": check the directory exists and is writable");
  }
}

void PrepareSocketPath(const config::MilterConfig& milter) {
  if (milter.socket.kind != config::SocketSpec::Kind::kUnix) return;
  std::filesystem::path path(milter.socket.path);
  std::error_code ec;
  bool created = std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    throw std::runtime_error("cannot create socket directory " + path.parent_path().string() +
                             ": " + ec.message());
  }
  // A directory we made is ours and the MTA's only (Sendmail also refuses a socket path with
  // a group- or world-writable directory).
  if (created && chmod(path.parent_path().c_str(), 0750) != 0) {
    throw SystemError("chmod " + path.parent_path().string());
  }
  if (ChangesOwnership(milter)) {
    Ids ids = SocketIds(milter);
    if (chown(path.parent_path().c_str(), ids.uid, ids.gid) != 0) {
      throw SystemError("chown " + path.parent_path().string());
    }
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error(path.string() +
                               " exists and is not a socket: remove it or change [milter] socket");
    }
    unlink(path.c_str());  // stale socket of an earlier run
  }
}

void SecureSocket(const config::MilterConfig& milter) {
  if (milter.socket.kind != config::SocketSpec::Kind::kUnix) return;
  const char* path = milter.socket.path.c_str();
  if (chmod(path, milter.socket_mode) != 0) throw SystemError(std::string("chmod ") + path);
  if (ChangesOwnership(milter)) {
    Ids ids = SocketIds(milter);
    if (chown(path, ids.uid, ids.gid) != 0) throw SystemError(std::string("chown ") + path);
  }
}

void ChownStore(const config::Config& config) {
  if (geteuid() != 0 || config.milter.user.empty()) return;
  Ids ids = LookupUser(config.milter);
  std::error_code ec;
  std::filesystem::path root(config.store.path);
  if (chown(root.c_str(), ids.uid, ids.gid) != 0) throw SystemError("chown " + root.string());
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), ids.uid, ids.gid) != 0) {
      throw SystemError("chown " + it->path().string());
    }
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

void DropPrivileges(const config::MilterConfig& milter) {
  if (milter.user.empty() || geteuid() != 0) return;
  Ids ids = LookupUser(milter);
  if (initgroups(milter.user.c_str(), ids.gid) != 0) throw SystemError("initgroups");
  if (setgid(ids.gid) != 0) throw SystemError("setgid");
  if (setuid(ids.uid) != 0) throw SystemError("setuid " + milter.user);
  if (setuid(0) == 0) throw std::runtime_error("privileges could not be dropped");
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
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const char message[] = "READY=1";
  sendto(fd, message, sizeof message - 1, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
  close(fd);
}

}  // namespace threadmill::milter
