// thread_backend.h - the thread side of the store as an interface: Message-ID -> thread
// mappings, thread records, Outlook Thread-Index roots, retention.
//
// DESCRIPTION
//   ThreadStore (thread_store.h) validates its arguments, picks new thread ids and then
//   calls a ThreadBackend; the backend only stores. Two implementations:
//     LmdbThreadBackend        the embedded LMDB environment (lmdb_thread_backend.h)
//     PgThreadBackend          a shared PostgreSQL database (postgresql/pg_thread_backend.h)
//   Every backend has the semantics documented on ThreadStore; the same test suite
//   (tests/lib/store/thread_backend_suite_test.cc) runs against each.
//
// THREADING
//   Implementations are thread-safe. Every call is one transaction of its own.
//
// LIMITS
//   Arguments arrive validated (ids 1..kMaxIdBytes, thread ids 1..kMaxThreadIdBytes, a
//   non-empty rec.thread_id in RecordMessage). Errors are Result/Status, never exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/records.h"

namespace threadmill::store {

inline constexpr size_t kSweepBatch = 1000;

struct SweepStats {
  uint64_t messages = 0;  // message records removed
  uint64_t threads = 0;   // threads removed because no message was left
};

class ThreadBackend {
 public:
  virtual ~ThreadBackend() = default;

  virtual Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const = 0;
  virtual Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const = 0;
  virtual Result<std::optional<std::string>> FindThreadByIndex(
      std::string_view thread_index_root) const = 0;
  // rec.thread_id is set. Semantics: ThreadStore::RecordMessage (`thread_after` may be null;
  // when not, it is empty on entry).
  virtual Result<MessageRecord> RecordMessage(const MessageRecord& rec,
                                              std::string_view thread_index_root,
                                              std::optional<ThreadRecord>* thread_after) = 0;
  virtual Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                            size_t limit) const = 0;
  virtual Status SetThreadOwner(std::string_view thread_id, std::string_view owner) = 0;
  virtual Result<SweepStats> Sweep(int64_t older_than_unix) = 0;
  // Up to `limit` thread records whose id sorts after `after` ("" = from the first), in id
  // order: the console's thread search pages through every thread with it (read-only, one
  // page per call). Backends that cannot list answer kStore (the default).
  virtual Result<std::vector<ThreadRecord>> ListThreads(std::string_view after,
                                                        size_t limit) const {
    (void)after;
    (void)limit;
    return MakeError(ErrorCode::kStore, "this thread backend cannot list threads");
  }
};

}  // namespace threadmill::store
