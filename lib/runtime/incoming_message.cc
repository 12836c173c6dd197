// incoming_message.cc - one message as the MTA streams it (see incoming_message.h).
#include "runtime/incoming_message.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace threadmill::runtime {

IncomingMessage::IncomingMessage(std::string spool_dir, size_t max_bytes, size_t memory_limit)
    : dir_(std::move(spool_dir)), max_bytes_(max_bytes), memory_limit_(memory_limit) {}

IncomingMessage::~IncomingMessage() {
  fd_.reset();
  if (!path_.empty()) unlink(path_.c_str());
}

void IncomingMessage::Drop() {
  std::string().swap(buffer_);
  fd_.reset();
  if (!path_.empty()) {
    unlink(path_.c_str());
    path_.clear();
  }
}

bool IncomingMessage::WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t w = write(fd_.get(), data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = "write " + path_ + ": " + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

bool IncomingMessage::Spill() {
  std::string name = dir_ + "/in-XXXXXX.tmp";
  fd_.reset(mkostemps(name.data(), 4, O_CLOEXEC));
  if (!fd_) {
    error_ = "create " + name + ": " + std::strerror(errno);
    return false;
  }
  fchmod(fd_.get(), 0640);
  path_ = name;
  bool ok = WriteAll(buffer_);
  std::string().swap(buffer_);
  return ok;
}

void IncomingMessage::Append(std::string_view data) {
  if (!complete() || persisted_) return;
  if (size_ + data.size() > max_bytes_) {
    too_large_ = true;  // handlers will not see it (the decision line says so)
    Drop();
    return;
  }
  size_ += data.size();
  if (!fd_ && buffer_.size() + data.size() <= memory_limit_) {
    buffer_.append(data);
    return;
  }
  if ((!fd_ && !Spill()) || !WriteAll(data)) Drop();
}

Result<std::string> IncomingMessage::Persist() {
  if (!complete()) {
    return MakeError(ErrorCode::kStore,
                     too_large_ ? "message over max_message_bytes" : "spool: " + error_);
  }
  if (persisted_) return path_;
  if (!fd_ && !Spill()) {
    Drop();
    return MakeError(ErrorCode::kStore, "spool: " + error_);
  }
  if (fsync(fd_.get()) != 0) {
    error_ = "fsync " + path_ + ": " + std::strerror(errno);
    Drop();
    return MakeError(ErrorCode::kStore, "spool: " + error_);
  }
  persisted_ = true;
  return path_;
}

Result<std::string> IncomingMessage::Contents() const {
  if (!complete()) return MakeError(ErrorCode::kStore, "message not kept");
  if (!fd_) return buffer_;
  std::string out(size_, '\0');
  size_t done = 0;
  while (done < size_) {
    ssize_t r = pread(fd_.get(), out.data() + done, size_ - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return MakeError(ErrorCode::kStore, "read " + path_ + ": " + std::strerror(errno));
    done += static_cast<size_t>(r);
  }
  return out;
}

}  // namespace threadmill::runtime
