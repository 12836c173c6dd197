#include "reply/gate_marker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/unique_fd.h"
#include "reply/ledger.h"

namespace threadmill::reply {
namespace {

constexpr std::string_view kPrefix = "gate-";
constexpr size_t kHexDigits = 32;
constexpr int64_t kSweepMinAgeSeconds = 3600;
constexpr size_t kSweepOwedLimit = 1000000;

bool RandomName(std::string* out) {
  unsigned char bytes[kHexDigits / 2];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  out->assign(kPrefix);
  for (unsigned char b : bytes) {
    out->push_back(kHex[b >> 4]);
    out->push_back(kHex[b & 15]);
  }
  return true;
}

}  // namespace

bool GateMarkers::ValidName(std::string_view name) {
  if (name.size() != kPrefix.size() + kHexDigits || !name.starts_with(kPrefix)) return false;
  for (char c : name.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> GateMarkers::Create() const {
  if (!enabled()) return MakeError(ErrorCode::kInvalidInput, "gate markers: no directory");
  if (mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return MakeError(ErrorCode::kStore, "gate markers: mkdir " + dir_ + ": " + strerror(errno));
  }
  for (int tries = 0; tries < 4; ++tries) {
    std::string name;
    if (!RandomName(&name)) {
      return MakeError(ErrorCode::kStore, std::string("gate markers: getrandom: ") + strerror(errno));
    }
    UniqueFd fd(open(PathOf(name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     0640));
    if (fd) return name;
    if (errno != EEXIST) {
      return MakeError(ErrorCode::kStore,
                       "gate markers: creating " + PathOf(name) + ": " + strerror(errno));
    }
  }
  return MakeError(ErrorCode::kStore, "gate markers: no fresh name in " + dir_);
}

GateMarkers::State GateMarkers::Check(std::string_view name) const {
  if (!enabled() || !ValidName(name)) return State::kUnknown;
  struct stat st;
  if (lstat(PathOf(name).c_str(), &st) == 0) {
    return S_ISREG(st.st_mode) ? State::kPresent : State::kUnknown;
  }
  return errno == ENOENT ? State::kAbsent : State::kUnknown;
}

void GateMarkers::Remove(std::string_view name) const {
  if (!enabled() || !ValidName(name)) return;
  (void)unlink(PathOf(name).c_str());
}

Result<size_t> GateMarkers::Sweep(const std::set<std::string>& keep, int64_t now,
                                  int64_t min_age_seconds) const {
  if (!enabled()) return size_t{0};
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(dir_.c_str()), closedir);
  if (!dir) {
    if (errno == ENOENT) return size_t{0};
    return MakeError(ErrorCode::kStore, "gate markers: opendir " + dir_ + ": " + strerror(errno));
  }
  size_t removed = 0;
  while (dirent* entry = readdir(dir.get())) {
    std::string name = entry->d_name;
    if (!ValidName(name) || keep.count(name)) continue;
    struct stat st;
    if (fstatat(dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || now - static_cast<int64_t>(st.st_mtime) < min_age_seconds) {
      continue;
    }
    if (unlinkat(dirfd(dir.get()), entry->d_name, 0) == 0) ++removed;
  }
  return removed;
}

Result<size_t> SweepGateMarkers(const GateMarkers& markers, const ReplyLedger& ledger,
                                int64_t now) {
  if (!markers.enabled()) return size_t{0};
  struct stat st;
  if (stat(markers.dir().c_str(), &st) != 0) return size_t{0};
  auto owed = ledger.ListOwed(kSweepOwedLimit);
  if (!owed.ok()) return owed.error();
  if (owed->size() >= kSweepOwedLimit) {
    return MakeError(ErrorCode::kTemporary,
                     "gate markers: too many replies owed to tell which markers are in use");
  }
  std::set<std::string> keep;
  for (const auto& o : *owed) {
    if (!o.entry.gate_marker.empty()) keep.insert(o.entry.gate_marker);
  }
  return markers.Sweep(keep, now, kSweepMinAgeSeconds);
}

}  // namespace threadmill::reply
