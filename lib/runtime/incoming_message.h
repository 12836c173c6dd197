// incoming_message.h - one message as the MTA streams it, kept for the job spool.
//
// DESCRIPTION
//   The milter appends the message (header fields CRLF-joined, blank line, body) while it
//   arrives. The first memory_limit bytes stay in RAM; a larger message spills to a private
//   temporary file in the spool directory (<spool>/in-XXXXXX.tmp, mode 0640) and is written
//   there as it arrives, so a session holds at most memory_limit bytes whatever the message
//   size. Persist() makes it one durable file (written and fsync()ed), which the job queue
//   hard-links once per job: one copy on disk however many jobs share it. The destructor
//   removes the temporary name (job links keep their data).
//
// LIMITS
//   Past max_bytes nothing more is kept (too_large()); an I/O error stops keeping too
//   (failed()). Neither throws: the message itself is always delivered, only its handoff
//   is affected. Leftover in-*.tmp files of a crash are removed by
//   JobQueue::RemoveStaleIncoming() at milter start.
//
// THREADING
//   One object per message, used by the one thread of its milter connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace threadmill::runtime {

class IncomingMessage {
 public:
  IncomingMessage(std::string spool_dir, size_t max_bytes, size_t memory_limit = 64 << 10);
  ~IncomingMessage();
  IncomingMessage(const IncomingMessage&) = delete;
  IncomingMessage& operator=(const IncomingMessage&) = delete;

  void Append(std::string_view data);

  size_t size() const { return size_; }
  bool too_large() const { return too_large_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Every byte kept: neither too large nor failed.
  bool complete() const { return !too_large_ && error_.empty(); }
  bool on_disk() const { return fd_.valid(); }

  // Writes what is left in RAM to the file (creating it), fsync()s it, and returns its path.
  // Idempotent. Only when complete().
  Result<std::string> Persist();
  // The whole message (tests; reads the file back when spilled).
  Result<std::string> Contents() const;

 private:
  bool Spill();  // creates the file and moves the RAM buffer there
  bool WriteAll(std::string_view data);
  void Drop();  // forgets everything kept (too large / failed)

  std::string dir_;
  size_t max_bytes_, memory_limit_;
  std::string buffer_;
  std::string path_;
  UniqueFd fd_;
  size_t size_ = 0;
  bool too_large_ = false;
  bool persisted_ = false;
  std::string error_;
};

}  // namespace threadmill::runtime
