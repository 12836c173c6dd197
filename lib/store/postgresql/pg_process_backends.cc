#include "store/postgresql/pg_process_backends.h"

#include <unistd.h>

#include <mutex>
#include <utility>

#include "store/postgresql/pg_job_backend.h"
#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/postgresql/pg_thread_backend.h"

namespace threadmill::store::pg {
namespace {

// The pool of the calling process, opened on first use (and again after a fork).
class ProcessPool {
 public:
  ProcessPool(std::string dsn, std::string host_id)
      : dsn_(std::move(dsn)), host_id_(std::move(host_id)) {}
  const std::string& host_id() const { return host_id_; }

  struct Opened {
    std::shared_ptr<PgThreadBackend> threads;
    std::shared_ptr<PgLedgerBackend> ledger;
    std::shared_ptr<PgJobBackend> jobs;
  };

  Result<Opened> Get() {
    std::lock_guard lock(mutex_);
    if (opened_.threads && pid_ != getpid()) {
      // Inherited across fork: its connections belong to the parent. Never destroyed here.
      new Opened(std::move(opened_));  // NOLINT(cppcoreguidelines-owning-memory): intended leak
      opened_ = {};
    }
    if (!opened_.threads) {
      auto pool = PgPool::Open(dsn_);
      if (!pool.ok()) return pool.error();
      opened_.threads = std::make_shared<PgThreadBackend>(*pool);
      opened_.ledger = std::make_shared<PgLedgerBackend>(*pool);
      opened_.jobs = std::make_shared<PgJobBackend>(*pool, host_id_);
      pid_ = getpid();
    }
    return opened_;
  }

 private:
  const std::string dsn_;
  const std::string host_id_;
  std::mutex mutex_;
  pid_t pid_ = 0;
  Opened opened_;
};

class LazyThreadBackend final : public ThreadBackend {
 public:
  explicit LazyThreadBackend(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

  Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->FindMessage(msgid);
  }
  Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->FindThread(thread_id);
  }
  Result<std::optional<std::string>> FindThreadByIndex(
      std::string_view thread_index_root) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->FindThreadByIndex(thread_index_root);
  }
  Result<MessageRecord> RecordMessage(const MessageRecord& rec,
                                      std::string_view thread_index_root) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->RecordMessage(rec, thread_index_root);
  }
  Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                    size_t limit) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->ThreadMessages(thread_id, limit);
  }
  Status SetThreadOwner(std::string_view thread_id, std::string_view owner) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->SetThreadOwner(thread_id, owner);
  }
  Result<SweepStats> Sweep(int64_t older_than_unix) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->threads->Sweep(older_than_unix);
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

class LazyLedgerBackend final : public LedgerBackend {
 public:
  explicit LazyLedgerBackend(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

  Status Read(const std::function<Status(LedgerTxn&)>& fn) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->ledger->Read(fn);
  }
  Status Write(const std::function<Status(LedgerTxn&)>& fn) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->ledger->Write(fn);
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

class LazyJobBackend final : public JobBackend {
 public:
  explicit LazyJobBackend(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

  const std::string& host_id() const override { return pool_->host_id(); }
  Result<std::vector<InsertedJob>> Insert(const std::vector<JobRow>& rows,
                                          std::string_view message) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->Insert(rows, message);
  }
  Result<std::optional<JobRow>> Get(std::string_view id) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->Get(id);
  }
  Result<std::string> ReadMessage(std::string_view id) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->ReadMessage(id);
  }
  Result<std::vector<JobRow>> List(size_t limit, std::optional<char> state) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->List(limit, state);
  }
  Result<std::vector<JobRow>> ClaimDue(int64_t now, const std::map<std::string, size_t>& capacity,
                                       int64_t lease_seconds) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->ClaimDue(now, capacity, lease_seconds);
  }
  Status Update(std::string_view id, bool only_leased,
                const std::function<Status(JobRow&)>& fn) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->Update(id, only_leased, fn);
  }
  Result<std::optional<int64_t>> NextDue() const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->NextDue();
  }
  Result<size_t> Count(char state) const override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->Count(state);
  }
  Result<size_t> RecoverRunning(int64_t now) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->RecoverRunning(now);
  }
  Result<size_t> SweepDone(int64_t older_than, size_t batch) override {
    auto b = pool_->Get();
    if (!b.ok()) return b.error();
    return b->jobs->SweepDone(older_than, batch);
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

}  // namespace

ProcessBackends MakeProcessBackends(std::string dsn, std::string host_id) {
  auto pool = std::make_shared<ProcessPool>(std::move(dsn), std::move(host_id));
  return {std::make_shared<LazyThreadBackend>(pool), std::make_shared<LazyLedgerBackend>(pool),
          std::make_shared<LazyJobBackend>(pool)};
}

}  // namespace threadmill::store::pg
