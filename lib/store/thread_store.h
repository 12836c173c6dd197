// thread_store.h - email threads: which Message-IDs threadmill has seen, grouped in threads.
//
// DESCRIPTION
//   The facade callers use; the storing is done by a ThreadBackend (thread_backend.h):
//   LMDB (the default, built from an Environment) or PostgreSQL. ThreadStore validates the
//   arguments and picks new thread ids, so every backend sees the same checked input.
//   The milter records every outbound (and matched inbound) Message-ID with the thread it
//   belongs to; replies are matched by looking up the ids they reference.
//   RecordMessage is idempotent per Message-ID (MTA retries, several recipients), and does
//   all its writes in one transaction, so a crash never leaves half a message.
//   Sweep implements retention in batches of kSweepBatch messages per transaction.
//
// THREADING
//   A ThreadStore is thread-safe; copies share the backend. Every call runs its own
//   transaction: call none from inside Environment::Read/Write callbacks.
//
// LIMITS
//   Message-IDs and Thread-Index roots: 1..kMaxIdBytes bytes of any value (long ones are
//   hashed, see keys.h). Thread ids: 1..128 bytes, no control characters. The first
//   mapping of a Thread-Index root wins. A thread keeps at most kMaxThreadIndexRoots roots;
//   later roots are not mapped. Message order within a thread is by the record's time,
//   then key bytes; records with equal seconds are not ordered by arrival.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"
#include "store/records.h"
#include "store/thread_backend.h"

namespace threadmill::store {

inline constexpr size_t kMaxIdBytes = 4096;
inline constexpr size_t kMaxThreadIdBytes = 128;
class ThreadStore {
 public:
  // `env` must be non-null and outlive nothing in particular (shared ownership).
  explicit ThreadStore(std::shared_ptr<Environment> env);
  // Any backend (must be non-null), e.g. PostgreSQL (postgresql/pg_thread_backend.h).
  explicit ThreadStore(std::shared_ptr<ThreadBackend> backend);

  // The record of `msgid` (normalized, without <>), or nullopt. Thread-safe.
  Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const;

  // The thread `thread_id`, or nullopt. Thread-safe.
  Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const;

  // The thread an Outlook Thread-Index root (its first 22 bytes, as the caller encodes
  // them) was mapped to by RecordMessage, or nullopt. Thread-safe.
  Result<std::optional<std::string>> FindThreadByIndex(std::string_view thread_index_root) const;

  // Records a message in one write transaction and returns the stored record. When
  // rec.msgid is already known, returns the existing record unchanged (idempotent) - except
  // that an outbound record without a queue id (written by the reply path before
  // reinjection) takes the queue id of an outbound `rec` (the MTA passing it back through
  // the milter: the outbound echo of reply/replier.h).
  // Otherwise an empty rec.thread_id starts a new thread (NewThreadId); the thread is
  // created or updated (updated, message_count, recent_msgids, participants, owner and
  // subject when empty), indexed, and `thread_index_root` mapped to it when given and not
  // mapped yet. Errors: kInvalidInput (bad ids), kStore, kTemporary. Thread-safe.
  // `thread_after`, when given, receives the thread record as this call stored it (so a
  // caller that needs the thread - the milter's routing reads its owner - needs no second
  // lookup); it stays empty when the message was known already (nothing stored).
  Result<MessageRecord> RecordMessage(const MessageRecord& rec,
                                      std::string_view thread_index_root = {},
                                      std::optional<ThreadRecord>* thread_after = nullptr);

  // Up to `limit` messages of a thread, oldest first. Thread-safe.
  Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                    size_t limit = 1000) const;

  // Up to `limit` threads whose id sorts after `after` ("" = from the first), in id order
  // (ThreadBackend::ListThreads). Thread-safe.
  Result<std::vector<ThreadRecord>> ListThreads(std::string_view after, size_t limit) const {
    return backend_->ListThreads(after, limit);
  }

  // Sets (or with "" clears) a thread's owner. kNotFound for an unknown thread.
  Status SetThreadOwner(std::string_view thread_id, std::string_view owner);

  // Removes messages with time < older_than_unix, their index entries, and threads left
  // without messages (with their Thread-Index mappings); at most kSweepBatch messages per
  // write transaction, so writers are never held up long. Thread-safe; safe to run while
  // the milter writes, and from several processes (each batch re-reads the oldest entries).
  Result<SweepStats> Sweep(int64_t older_than_unix);

  // A new thread id: "T" + 10 base32 (Crockford) digits of the current time in ms + 10
  // random ones (getrandom), 21 characters, ordered roughly by creation time.
  // Thread-safe; never fails (falls back to std::random_device).
  static std::string NewThreadId();

 private:
  std::shared_ptr<ThreadBackend> backend_;
};

}  // namespace threadmill::store
