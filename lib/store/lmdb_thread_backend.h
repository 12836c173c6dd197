// lmdb_thread_backend.h - the thread side of the store in the embedded LMDB environment.
//
// DESCRIPTION
//   Databases used (schema.h): msgid, msg_time, thread, thread_msgs, thread_index.
//   RecordMessage does all its writes in one write transaction, so a crash never leaves
//   half a message. Sweep removes kSweepBatch messages per write transaction.
//
// THREADING
//   Thread-safe; copies share the Environment. Call none from inside Environment::Read/Write
//   callbacks.
//
// LIMITS
//   One host: LMDB is a local file (several processes of that host may share it).
//   Message order within a thread is by the record's time, then key bytes.
#pragma once

#include <memory>

#include "store/environment.h"
#include "store/thread_backend.h"

namespace threadmill::store {

class LmdbThreadBackend final : public ThreadBackend {
 public:
  explicit LmdbThreadBackend(std::shared_ptr<Environment> env);

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
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
