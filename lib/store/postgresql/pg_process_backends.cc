// pg_process_backends.cc - see pg_process_backends.h.
#include "store/postgresql/pg_process_backends.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "store/postgresql/pg_census_backend.h"
#include "store/postgresql/pg_counters_backend.h"
#include "store/postgresql/pg_draft_backend.h"
#include "store/postgresql/pg_kv_backend.h"
#include "store/postgresql/pg_job_backend.h"
#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/postgresql/pg_sweep_lease.h"
#include "store/postgresql/pg_thread_backend.h"

namespace threadmill::store::pg {
namespace {

constexpr size_t kProcessPoolIdle = 16;

// The pool of the calling process, opened on first use (and again after a fork).
class ProcessPool {
 public:
  ProcessPool(std::string dsn, std::string host_id, PgPool::Options options,
              int64_t retention_seconds)
      : dsn_(std::move(dsn)),
        host_id_(std::move(host_id)),
        options_(options),
        retention_seconds_(retention_seconds) {
    // A milter process serves one thread per SMTP session: keep enough idle connections
    // for a busy host's concurrent sessions, or every burst opens and closes backends
    // (milliseconds of server CPU each; tests/bench/store_backends counts them).
    options_.max_idle = std::max(options_.max_idle, kProcessPoolIdle);
  }
  const std::string& host_id() const { return host_id_; }

  struct Opened {
    std::shared_ptr<PgThreadBackend> threads;
    std::shared_ptr<PgLedgerBackend> ledger;
    std::shared_ptr<PgKvBackend> kv;
    std::shared_ptr<PgCountersBackend> counters;
    std::shared_ptr<PgDraftBackend> drafts;
    std::shared_ptr<PgSweepLease> sweep_lease;
    std::shared_ptr<PgJobBackend> jobs;
    std::shared_ptr<PgCensusBackend> census;
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
      opened_.threads = std::make_shared<PgThreadBackend>(*pool, retention_seconds_);
      opened_.ledger = std::make_shared<PgLedgerBackend>(*pool);
      opened_.kv = std::make_shared<PgKvBackend>(*pool);
      opened_.counters = std::make_shared<PgCountersBackend>(*pool);
      opened_.drafts = std::make_shared<PgDraftBackend>(*pool);
      opened_.sweep_lease = std::make_shared<PgSweepLease>(*pool);
      opened_.jobs = std::make_shared<PgJobBackend>(*pool, host_id_);
      opened_.census = std::make_shared<PgCensusBackend>(*pool);
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
  const std::string host_id_;
  PgPool::Options options_;
  const int64_t retention_seconds_;
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

// The base of every lazy backend: With(op, fn) runs fn on this process's opened backends,
// timed and counted as `op` (BackendStats, /metrics).
class Lazy {
 public:
  explicit Lazy(std::shared_ptr<ProcessPool> pool) : pool_(std::move(pool)) {}

 protected:
  template <typename Fn>
  auto With(const char* op, Fn&& fn) const -> decltype(fn(std::declval<ProcessPool::Opened&>())) {
    using R = decltype(fn(std::declval<ProcessPool::Opened&>()));
    return pool_->Call(op, [&]() -> R {
      auto b = pool_->Get();
      if (!b.ok()) return b.error();
      return fn(*b);
    });
  }

 private:
  std::shared_ptr<ProcessPool> pool_;
};

class LazyThreadBackend final : public ThreadBackend, Lazy {
 public:
  using Lazy::Lazy;

  Result<std::optional<MessageRecord>> FindMessage(std::string_view msgid) const override {
    return With("find_message", [&](auto& b) { return b.threads->FindMessage(msgid); });
  }
  Result<std::optional<ThreadRecord>> FindThread(std::string_view thread_id) const override {
    return With("find_thread", [&](auto& b) { return b.threads->FindThread(thread_id); });
  }
  Result<std::optional<std::string>> FindThreadByIndex(
      std::string_view thread_index_root) const override {
    return With("find_thread_by_index", [&](auto& b) { return b.threads->FindThreadByIndex(thread_index_root); });
  }
  Result<MessageRecord> RecordMessage(const MessageRecord& rec, std::string_view thread_index_root,
                                      std::optional<ThreadRecord>* thread_after) override {
    return With("record_message", [&](auto& b) {
      return b.threads->RecordMessage(rec, thread_index_root, thread_after);
    });
  }
  Result<std::vector<MessageRecord>> ThreadMessages(std::string_view thread_id,
                                                    size_t limit) const override {
    return With("thread_messages", [&](auto& b) { return b.threads->ThreadMessages(thread_id, limit); });
  }
  Status SetThreadOwner(std::string_view thread_id, std::string_view owner) override {
    return With("set_thread_owner", [&](auto& b) { return b.threads->SetThreadOwner(thread_id, owner); });
  }
  Result<SweepStats> Sweep(int64_t older_than_unix) override {
    return With("sweep", [&](auto& b) { return b.threads->Sweep(older_than_unix); });
  }
  Result<std::vector<ThreadRecord>> ListThreads(std::string_view after,
                                                size_t limit) const override {
    return With("list_threads", [&](auto& b) { return b.threads->ListThreads(after, limit); });
  }
};

class LazyLedgerBackend final : public LedgerBackend, Lazy {
 public:
  using Lazy::Lazy;

  Status Read(const std::function<Status(LedgerTxn&)>& fn) const override {
    return With("ledger_read", [&](auto& b) { return b.ledger->Read(fn); });
  }
  Status Write(const std::function<Status(LedgerTxn&)>& fn) override {
    return With("ledger_write", [&](auto& b) { return b.ledger->Write(fn); });
  }
};

class LazyKvBackend final : public KvBackend, Lazy {
 public:
  using Lazy::Lazy;

  Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key,
                                         int64_t now) const override {
    return With("kv_get", [&](auto& b) { return b.kv->Get(handler, key, now); });
  }
  Status Put(std::string_view handler, std::string_view key, std::string_view value,
             std::optional<int64_t> expiry) override {
    return With("kv_put", [&](auto& b) { return b.kv->Put(handler, key, value, expiry); });
  }
  Result<bool> Delete(std::string_view handler, std::string_view key, int64_t now) override {
    return With("kv_delete", [&](auto& b) { return b.kv->Delete(handler, key, now); });
  }
  Result<std::vector<KvEntry>> List(std::string_view handler,
                                    const KvListQuery& query) const override {
    return With("kv_list", [&](auto& b) { return b.kv->List(handler, query); });
  }
  Result<size_t> SweepExpired(int64_t now, size_t batch) override {
    return With("kv_sweep_expired", [&](auto& b) { return b.kv->SweepExpired(now, batch); });
  }
};

class LazyCountersBackend final : public CountersBackend, Lazy {
 public:
  using Lazy::Lazy;

  Status Add(std::string_view series, uint64_t n) override {
    return With("counters_add", [&](auto& b) { return b.counters->Add(series, n); });
  }
  Result<std::vector<std::pair<std::string, uint64_t>>> All() const override {
    return With("counters_all", [&](auto& b) { return b.counters->All(); });
  }
};

class LazyDraftBackend final : public DraftBackend, Lazy {
 public:
  using Lazy::Lazy;

  Status Put(const DraftRow& row) override {
    return With("drafts_put", [&](auto& b) { return b.drafts->Put(row); });
  }
  Result<bool> Replace(const DraftRow& row, std::string_view expected_state) override {
    return With("drafts_replace", [&](auto& b) { return b.drafts->Replace(row, expected_state); });
  }
  Result<std::optional<std::string>> Get(std::string_view id) const override {
    return With("drafts_get", [&](auto& b) { return b.drafts->Get(id); });
  }
  Result<std::vector<std::string>> List(size_t limit, std::string_view state) const override {
    return With("drafts_list", [&](auto& b) { return b.drafts->List(limit, state); });
  }
  Result<size_t> SweepDecided(int64_t before, size_t batch) override {
    return With("drafts_sweep_decided", [&](auto& b) { return b.drafts->SweepDecided(before, batch); });
  }
};

class LazySweepLease final : public SweepLease, Lazy {
 public:
  using Lazy::Lazy;

  Result<bool> TryAcquire(std::string_view name, std::string_view host, int64_t now,
                          int64_t until) override {
    return With("sweep_lease_try_acquire", [&](auto& b) { return b.sweep_lease->TryAcquire(name, host, now, until); });
  }
};

class LazyJobBackend final : public JobBackend, Lazy {
 public:
  LazyJobBackend(std::shared_ptr<ProcessPool> pool) : Lazy(pool), host_pool_(std::move(pool)) {}

  const std::string& host_id() const override { return host_pool_->host_id(); }
  Result<std::vector<InsertedJob>> Insert(const std::vector<JobRow>& rows,
                                          std::string_view message) override {
    return With("jobs_insert", [&](auto& b) { return b.jobs->Insert(rows, message); });
  }
  Result<std::optional<JobRow>> Get(std::string_view id) const override {
    return With("jobs_get", [&](auto& b) { return b.jobs->Get(id); });
  }
  Result<std::string> ReadMessage(std::string_view id) const override {
    return With("jobs_read_message", [&](auto& b) { return b.jobs->ReadMessage(id); });
  }
  Result<std::vector<JobRow>> List(size_t limit, std::optional<char> state) const override {
    return With("jobs_list", [&](auto& b) { return b.jobs->List(limit, state); });
  }
  Result<std::vector<JobRow>> ClaimDue(int64_t now, const std::map<std::string, size_t>& capacity,
                                       int64_t lease_seconds) override {
    return With("jobs_claim_due", [&](auto& b) { return b.jobs->ClaimDue(now, capacity, lease_seconds); });
  }
  Status Update(std::string_view id, bool only_leased,
                const std::function<Status(JobRow&)>& fn) override {
    return With("jobs_update", [&](auto& b) { return b.jobs->Update(id, only_leased, fn); });
  }
  Result<std::optional<int64_t>> NextDue() const override {
    return With("jobs_next_due", [&](auto& b) { return b.jobs->NextDue(); });
  }
  Result<size_t> Count(char state) const override {
    return With("jobs_count", [&](auto& b) { return b.jobs->Count(state); });
  }
  Result<size_t> RecoverRunning(int64_t now) override {
    return With("jobs_recover_running", [&](auto& b) { return b.jobs->RecoverRunning(now); });
  }
  Result<size_t> SweepDone(int64_t older_than, size_t batch) override {
    return With("jobs_sweep_done", [&](auto& b) { return b.jobs->SweepDone(older_than, batch); });
  }

 private:
  std::shared_ptr<ProcessPool> host_pool_;
};

class LazyCensusBackend final : public CensusBackend, Lazy {
 public:
  using Lazy::Lazy;

  std::string_view backend() const override { return "postgresql"; }
  Result<std::vector<std::pair<std::string, uint64_t>>> Entries() const override {
    return With("census", [&](auto& b) { return b.census->Entries(); });
  }
};

}  // namespace

ProcessBackends MakeProcessBackends(std::string dsn, std::string host_id, PgPool::Options options,
                                    int64_t retention_seconds) {
  auto pool = std::make_shared<ProcessPool>(std::move(dsn), std::move(host_id), options,
                                            retention_seconds);
  return {std::make_shared<LazyThreadBackend>(pool), std::make_shared<LazyLedgerBackend>(pool),
          std::make_shared<LazyKvBackend>(pool),     std::make_shared<LazyCountersBackend>(pool),
          std::make_shared<LazyDraftBackend>(pool),  std::make_shared<LazySweepLease>(pool),
          std::make_shared<LazyJobBackend>(pool),    [pool] { return pool->Stats(); },
          std::make_shared<LazyCensusBackend>(pool)};
}

}  // namespace threadmill::store::pg
