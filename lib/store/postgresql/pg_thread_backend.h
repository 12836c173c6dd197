// pg_thread_backend.h - the thread side of the store in a shared PostgreSQL database, so
// that an answer arriving at one MX host finds the thread its question left through another.
//
// DESCRIPTION
//   Tables tm_message, tm_thread, tm_thread_index (pg_schema.h). Reads are single prepared
//   statements; RecordMessage, SetThreadOwner and each Sweep batch are one READ COMMITTED
//   transaction that locks the thread row before it reads the thread record (RecordMessage
//   inserts the message and creates-and-locks the thread in one statement), so two hosts recording
//   messages of one thread queue on that row instead of failing each other (SERIALIZABLE made a
//   busy thread's writers retry until they gave up), never lose an update, and a Message-ID
//   recorded by both is stored once (the unique index; INSERT ... ON CONFLICT DO NOTHING waits for
//   the other host's transaction, then finds its row). Deadlocks are retried (pg_conn.h).
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   Thread ids are a text column: they must be valid UTF-8 (ThreadStore::NewThreadId's are
//   ASCII), kStore otherwise. Round trips to record a message (asserted by
//   tests/lib/store/backend_suite_test.cc store_pg_round_trips): 1 for a message that starts
//   a thread or is known already (one statement, kRecordNew); 1 for a reply whose thread this
//   process read with the parent's FindMessage and nobody changed since (compare-and-swap of
//   the thread record, kRecordCas); otherwise 2 (BEGIN + insert and lock the thread; index
//   root and thread record + COMMIT: pg_conn.h pipelines BEGIN and COMMIT with the
//   statements), plus 1 for a failed attempt of the one-statement paths (a thread that
//   exists, a swap that lost). The thread record is JSON merged by the client
//   (thread_update.h), so an existing thread needs its record read before it is written.
//   RecordMessage hands back the thread record it stored (thread_store.h), so the milter's
//   routing by the thread's owner costs no FindThread round trip after it. FindMessage of a
//   message this process stored in the last minutes costs none (pg_recent_messages.h), so a
//   reply to it costs 1 round trip in all (the compare-and-swap).
//   Message order within a thread: time, then Message-ID bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/postgresql/pg_pool.h"
#include "store/postgresql/pg_recent_messages.h"
#include "store/thread_backend.h"

namespace threadmill::store::pg {

class PgThreadBackend final : public ThreadBackend {
 public:
  // retention_seconds: [store] retention_days in seconds, which decides whether FindMessage
  // may answer this process's recent messages from memory (pg_recent_messages.h; 0: never).
  explicit PgThreadBackend(std::shared_ptr<PgPool> pool, int64_t retention_seconds = 0);

  Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const override;
  Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const override;
  Result<std::optional<std::string>> FindThreadByIndex(
      std::string_view thread_index_root) const override;
  Result<MessageRecord> RecordMessage(const MessageRecord& rec, std::string_view thread_index_root,
                                      std::optional<ThreadRecord>* thread_after) override;
  Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                    size_t limit) const override;
  Status SetThreadOwner(std::string_view thread_id, std::string_view owner) override;
  Result<SweepStats> Sweep(int64_t older_than_unix) override;
  Result<std::vector<ThreadRecord>> ListThreads(std::string_view after,
                                                size_t limit) const override;

 private:
  // Thread records as this process last read or stored them (FindMessage reads a message's
  // thread along), for RecordMessage's compare-and-swap path. Only a hint: a stale entry
  // costs the swap failing and the locking path. Emptied when it reaches kThreadCacheSize.
  static constexpr size_t kThreadCacheSize = 4096;
  void Remember(std::string_view thread_id, std::string_view record) const;
  std::optional<std::string> Recall(std::string_view thread_id) const;
  void Forget(std::string_view thread_id) const;

  std::shared_ptr<PgPool> pool_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::string> thread_cache_;
  RecentMessages recent_;
};

}  // namespace threadmill::store::pg
