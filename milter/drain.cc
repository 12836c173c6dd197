// drain.cc - see drain.h.
#include "milter/drain.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "common/unique_fd.h"
#include "log/logger.h"

namespace threadmill::milter::drain {
namespace {

// libmilter writes the answer to end-of-message right after the callback returns: give the
// last one this long to reach the socket before the process may exit.
constexpr auto kAnswerGrace = std::chrono::milliseconds(200);

std::mutex g_mutex;
std::condition_variable g_idle;
std::chrono::steady_clock::time_point g_last_end;
std::unordered_set<SMFICTX*>& Open() {
  static auto* open = new std::unordered_set<SMFICTX*>;  // never destroyed: threads outlive main
  return *open;
}

}  // namespace

void Begin(SMFICTX* ctx) {
  std::lock_guard lock(g_mutex);
  Open().insert(ctx);
}

void End(SMFICTX* ctx) {
  std::lock_guard lock(g_mutex);
  if (Open().erase(ctx)) {
    g_last_end = std::chrono::steady_clock::now();
    if (Open().empty()) g_idle.notify_all();
  }
}

size_t InFlight() {
  std::lock_guard lock(g_mutex);
  return Open().size();
}

namespace {

bool IsMilterListener(int fd, const config::MilterConfig& milter) {
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) return false;
  sockaddr_storage address{};
  socklen_t address_len = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_len) != 0) return false;
  const config::SocketSpec& spec = milter.socket;
  switch (address.ss_family) {
    case AF_UNIX:
      return spec.kind == config::SocketSpec::Kind::kUnix &&
             spec.path == reinterpret_cast<sockaddr_un*>(&address)->sun_path;
    case AF_INET:
      return spec.kind == config::SocketSpec::Kind::kInet &&
             ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port) == spec.port;
    case AF_INET6:
      return spec.kind == config::SocketSpec::Kind::kInet6 &&
             ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port) == spec.port;
    default:
      return false;
  }
}

// A listening unix socket on an autobound abstract address: never ready for libmilter.
UniqueFd DummyListener() {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(sa_family_t)) != 0 ||
      listen(fd.get(), 1) != 0) {
    return UniqueFd();
  }
  return fd;
}

}  // namespace

bool CloseListener(const config::MilterConfig& milter) {
  // libmilter keeps its listening descriptor private: find it among ours.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = std::atoi(entry.path().filename().c_str());
    if (!IsMilterListener(fd, milter)) continue;
    UniqueFd dummy = DummyListener();
    if (!dummy || dup2(dummy.get(), fd) < 0) {
      log::Get().error("drain: cannot close the listening socket: {}", std::strerror(errno));
      return false;
    }
    return true;
  }
  log::Get().warn("drain: listening socket {} not found; new connections are still accepted",
                  milter.socket.text);
  return false;
}

size_t WaitIdle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(g_mutex);
  g_idle.wait_until(lock, deadline, [] { return Open().empty(); });
  if (!Open().empty()) return Open().size();
  auto answered = g_last_end + kAnswerGrace;
  g_idle.wait_until(lock, std::min(answered, deadline + kAnswerGrace),
                    [&] { return std::chrono::steady_clock::now() >= answered; });
  return Open().size();
}

}  // namespace threadmill::milter::drain
