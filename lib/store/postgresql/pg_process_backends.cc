#include "store/postgresql/pg_process_backends.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_thread_backend.h"

namespace threadmill::store::pg {
namespace {

// The pool of the calling process, opened on first use (and again after a fork).
class ProcessPool {
 public:
  ProcessPool(std::string dsn, PgPool::Options options) : dsn_(std::move(dsn)), options_(options) {}

  struct Opened {
    std::shared_ptr<PgThreadBackend> threads;
    std::shared_ptr<PgLedgerBackend> ledger;
  };

  // Times a call of `op` and counts it (BackendStats).
  template <typename Fn>
  auto Call(const char* op, Fn&& fn) {
    const auto start = std::chrono::steady_clock::now();
    auto result = fn();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard lock(stats_mutex_);
    BackendStats::Op& counted = ops_[op];
    ++counted.calls;
    counted.seconds += seconds;
    up_ = result.ok();
    if (!result.ok()) ++counted.errors;
    return result;
  }

  BackendStats Stats() {
    BackendStats out;
    out.backend = "postgresql";
    {
      std::lock_guard lock(stats_mutex_);
      out.up = up_;
      out.ops = ops_;
    }
    std::shared_ptr<PgPool> pool;
    {
      std::lock_guard lock(mutex_);
      if (pid_ == getpid()) pool = pool_;
    }
    if (pool) {
      PgPool::Stats s = pool->stats();
      out.connects = s.connects;
      out.connect_failures = s.connect_failures;
      out.timeouts = s.timeouts;
      out.idle_connections = s.idle;
      out.busy_connections = s.in_use;
    }
    std::lock_guard lock(mutex_);
    out.connect_failures += open_failures_;
    return out;
  }

  Result<Opened> Get() {
    std::lock_guard lock(mutex_);
    if (opened_.threads && pid_ != getpid()) {
      // Inherited across fork: its connections belong to the parent. Never destroyed here.
      new Opened(std::move(opened_));  // NOLINT(cppcoreguidelines-owning-memory): intended leak
      new std::shared_ptr<PgPool>(std::move(pool_));  // NOLINT: the same
      opened_ = {};
      pool_.reset();
    }
    if (!opened_.threads) {
      const int64_t now = SteadyMs();
      if (now < retry_at_ms_) {
        return MakeError(ErrorCode::kTemporary, "postgresql: unavailable, next connect in " +
                                                    std::to_string(retry_at_ms_ - now) + " ms (" +
                                                    last_error_ + ")");
      }
      auto pool = PgPool::Open(dsn_, options_);
      if (!pool.ok()) {
        ++open_failures_;
        retry_at_ms_ = SteadyMs() + options_.retry_after_ms;
        last_error_ = pool.error().message;
        return pool.error();
      }
      pool_ = *pool;
      opened_.threads = std::make_shared<PgThreadBackend>(*pool);
      opened_.ledger = std::make_shared<PgLedgerBackend>(*pool);
      pid_ = getpid();
    }
    return opened_;
  }

 private:
  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  const std::string dsn_;
  const PgPool::Options options_;
  std::mutex mutex_;
  pid_t pid_ = 0;
  int64_t retry_at_ms_ = 0;  // steady ms: no new open before this (after a failed one)
  std::string last_error_;
  std::shared_ptr<PgPool> pool_;
  uint64_t open_failures_ = 0;
  std::mutex stats_mutex_;
  bool up_ = false;
  std::map<std::string, BackendStats::Op> ops_;
  Opened opened_;
};

class LazyThreadBackend final : public ThreadBackend {
 public:
  explicit LazyThreadBackend(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

  Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const override {
    return pool_->Call("find_message", [&]() -> Result<std::optional<MessageRecord>> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->FindMessage(msgid);
    });
  }
  Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const override {
    return pool_->Call("find_thread", [&]() -> Result<std::optional<ThreadRecord>> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->FindThread(thread_id);
    });
  }
  Result<std::optional<std::string>> FindThreadByIndex(
      std::string_view thread_index_root) const override {
    return pool_->Call("find_thread_by_index", [&]() -> Result<std::optional<std::string>> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->FindThreadByIndex(thread_index_root);
    });
  }
  Result<MessageRecord> RecordMessage(const MessageRecord& rec,
                                      std::string_view thread_index_root) override {
    return pool_->Call("record_message", [&]() -> Result<MessageRecord> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->RecordMessage(rec, thread_index_root);
    });
  }
  Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                    size_t limit) const override {
    return pool_->Call("thread_messages", [&]() -> Result<std::vector<MessageRecord>> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->ThreadMessages(thread_id, limit);
    });
  }
  Status SetThreadOwner(std::string_view thread_id, std::string_view owner) override {
    return pool_->Call("set_thread_owner", [&]() -> Status {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->SetThreadOwner(thread_id, owner);
    });
  }
  Result<SweepStats> Sweep(int64_t older_than_unix) override {
    return pool_->Call("sweep", [&]() -> Result<SweepStats> {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->threads->Sweep(older_than_unix);
    });
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

class LazyLedgerBackend final : public LedgerBackend {
 public:
  explicit LazyLedgerBackend(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

  Status Read(const std::function<Status(LedgerTxn&)>& fn) const override {
    return pool_->Call("ledger_read", [&]() -> Status {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->ledger->Read(fn);
    });
  }
  Status Write(const std::function<Status(LedgerTxn&)>& fn) override {
    return pool_->Call("ledger_write", [&]() -> Status {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return b->ledger->Write(fn);
    });
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

}  // namespace

ProcessBackends MakeProcessBackends(std::string dsn, PgPool::Options options) {
  auto pool = std::make_shared<ProcessPool>(std::move(dsn), options);
  return {std::make_shared<LazyThreadBackend>(pool), std::make_shared<LazyLedgerBackend>(pool),
          [pool] { return pool->Stats(); }};
}

}  // namespace threadmill::store::pg
