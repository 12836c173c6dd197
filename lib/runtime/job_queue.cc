#include "runtime/job_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/unique_fd.h"
#include "store/counters.h"
#include "store/keys.h"
#include "store/txn.h"

namespace threadmill::runtime {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error SysError(const std::string& what) {
  return MakeError(ErrorCode::kStore, "spool: " + what + ": " + std::strerror(errno));
}

// How old the spool usage figure of the quota may get before the directory is scanned again.
constexpr int64_t kQuotaScanSeconds = 5;

int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SyncDir(const std::string& dir) {
  UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) fsync(dfd.get());
}

// spool_index key of a job: state letter, big-endian time, job id. Queued jobs sort by
// next_try (due first), the others by their last update (sweeping done jobs by age).
char StateLetter(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return 'Q';
    case JobState::kRunning:
      return 'R';
    case JobState::kParked:
      return 'P';
    case JobState::kDone:
      return 'D';
  }
  return 'Q';
}

std::string TimePrefix(JobState state, int64_t time) {
  std::string key(1, StateLetter(state));
  uint64_t t = time < 0 ? 0 : static_cast<uint64_t>(time);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(t >> shift));
  return key;
}

std::string IndexKey(const Job& job) {
  return TimePrefix(job.state, job.state == JobState::kQueued ? job.next_try : job.updated) +
         job.id;
}

int64_t IndexTime(std::string_view key) {
  if (key.size() < 9) return 0;
  uint64_t t = 0;
  for (size_t i = 1; i < 9; ++i) t = (t << 8) | static_cast<unsigned char>(key[i]);
  return static_cast<int64_t>(t);
}

std::string_view IndexId(std::string_view key) { return key.size() > 9 ? key.substr(9) : ""; }

// Stores `job` and moves its index entry from `before` (nullptr: a new job).
Status PutJob(store::WriteTxn& txn, const store::Environment& env, const Job* before,
              const Job& job) {
  MDB_dbi index = env.dbi(store::Db::kSpoolIndex);
  if (before) {
    if (auto del = txn.Del(index, IndexKey(*before)); !del.ok()) return del.error();
  }
  if (Status put = txn.Put(env.dbi(store::Db::kSpool), job.id, EncodeJob(job)); !put.ok()) {
    return put;
  }
  return txn.Put(index, IndexKey(job), "");
}

// Calls fn(index key) for the index entries of `state` with time <= max_time, in time order,
// until fn returns false.
template <typename Txn, typename Fn>
Status ScanIndex(Txn& txn, const store::Environment& env, JobState state, int64_t max_time,
                 Fn&& fn) {
  auto cursor = store::Cursor::Open(txn, env.dbi(store::Db::kSpoolIndex));
  if (!cursor.ok()) return cursor.error();
  char letter = StateLetter(state);
  auto at = cursor->SeekRange(TimePrefix(state, 0));
  for (; at.ok() && *at; at = cursor->Next()) {
    std::string_view key = cursor->key();
    if (key.empty() || key[0] != letter || IndexTime(key) > max_time) break;
    if (!fn(key)) break;
  }
  if (!at.ok()) return at.error();
  return {};
}


Status WriteDurably(const std::string& dir, const std::string& name, std::string_view data) {
  std::string tmp = dir + "/" + name + ".tmp";
  std::string final_path = dir + "/" + name + ".eml";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd) return SysError("create " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(fd.get(), data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Error e = SysError("write " + tmp);
      unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(w);
  }
  if (fsync(fd.get()) != 0) {
    Error e = SysError("fsync " + tmp);
    unlink(tmp.c_str());
    return e;
  }
  fd.reset();
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    Error e = SysError("rename " + tmp);
    unlink(tmp.c_str());
    return e;
  }
  if (UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dfd) fsync(dfd.get());
  return {};
}

}  // namespace

// A new queued job for `in`; its message file <spool_dir>/<id>.eml, or none when spool_dir
// is "" (the shared queue keeps the message in the database).
Job JobQueue::MakeJob(const JobInput& in, const std::string& spool_dir, size_t size) {
  Job job;
  job.id = NewJobId();
  job.handler = in.handler;
  job.state = JobState::kQueued;
  job.created = job.updated = job.next_try = Now();
  job.mail_from = in.mail_from;
  job.recipient = in.recipient;
  job.client_addr = in.client_addr;
  job.helo = in.helo;
  job.queue_id = in.queue_id;
  job.message_id = in.message_id;
  job.thread_id = in.thread_id;
  job.thread_owner = in.thread_owner;
  job.parent_message_id = in.parent_message_id;
  job.thread_known = in.thread_known;
  job.references_count = in.references_count;
  job.dmarc = in.dmarc.empty() ? "none" : in.dmarc;
  job.spf = in.spf.empty() ? "none" : in.spf;
  job.dkim = in.dkim.empty() ? "none" : in.dkim;
  job.no_reply_reason = in.no_reply_reason;
  job.sender_authenticated = in.sender_authenticated;
  job.arc_override = in.arc_override;
  job.route = in.route;
  job.received_time = in.received_time ? in.received_time : job.created;
  job.size = size;
  if (!spool_dir.empty()) job.file = spool_dir + "/" + job.id + ".eml";
  job.kind = in.kind;
  job.draft_id = in.draft_id;
  return job;
}

JobQueue::JobQueue(std::shared_ptr<store::Environment> env, std::string spool_dir)
    : env_(std::move(env)),
      shared_(env_->shared_backends().jobs),
      spool_dir_(std::move(spool_dir)) {
  if (mkdir(spool_dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create spool directory " + spool_dir_ + ": " +
                             std::strerror(errno));
  }
}

std::string SpoolDedupeKey(std::string_view message_id, std::string_view recipient,
                           std::string_view handler) {
  std::string key(message_id);
  key += '\0';
  for (char c : recipient) key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  key += '\0';
  key += handler;
  return key;
}

Result<std::string> JobQueue::Enqueue(const JobInput& in) {
  Job job = MakeJob(in, spool_dir_, in.raw_message.size());
  if (job.handler.empty()) return MakeError(ErrorCode::kInvalidInput, "spool: no handler");

  if (Status st = WriteDurably(spool_dir_, job.id, in.raw_message); !st.ok()) return st.error();
  Status st = env_->Write([&](store::WriteTxn& txn) { return PutJob(txn, *env_, nullptr, job); });
  if (!st.ok()) {
    unlink(job.file.c_str());
    return st.error();
  }
  Poke();
  return job.id;
}

Result<std::vector<Enqueued>> JobQueue::EnqueueLocal(const std::vector<JobInput>& inputs,
                                                     IncomingMessage& message,
                                                     uint64_t quota_bytes) {
  std::vector<Enqueued> out;
  if (inputs.empty()) return out;
  if (quota_bytes != 0 && UsedBytes() + message.size() > quota_bytes) {
    return MakeError(ErrorCode::kTemporary,
                     "spool quota reached (" + std::to_string(quota_bytes >> 20) + " MB)");
  }
  auto source = message.Persist();
  if (!source.ok()) return source.error();
  // One link per job first (the message file is already durable), then every record in one
  // transaction; links of jobs that turn out to exist already are removed again.
  std::vector<Job> jobs;
  auto unlink_all = [&] {
    for (const Job& job : jobs) unlink(job.file.c_str());
  };
  for (const JobInput& in : inputs) {
    Job job = MakeJob(in, spool_dir_, message.size());
    if (job.handler.empty()) {
      unlink_all();
      return MakeError(ErrorCode::kInvalidInput, "spool: no handler");
    }
    if (link(source->c_str(), job.file.c_str()) != 0) {
      Error e = SysError("link " + job.file);
      unlink_all();
      return e;
    }
    jobs.push_back(std::move(job));
  }
  std::vector<bool> duplicate(jobs.size(), false);
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    out.clear();
    MDB_dbi spool = env_->dbi(store::Db::kSpool);
    MDB_dbi kv = env_->dbi(store::Db::kKv);
    for (size_t i = 0; i < jobs.size(); ++i) {
      const Job& job = jobs[i];
      duplicate[i] = false;
      if (!job.message_id.empty()) {
        std::string key = SpoolDedupeKey(job.message_id, job.recipient, job.handler);
        auto hit = store::KeyedFind(txn, kv, kSpoolDedupeNamespace, key);
        if (!hit.ok()) return hit.error();
        if (hit->has_value()) {
          std::string earlier((*hit)->payload);
          auto exists = txn.Get(spool, earlier);
          if (!exists.ok()) return exists.error();
          if (exists->has_value()) {
            duplicate[i] = true;
            out.push_back({earlier, true});
            continue;
          }
        }
        auto put = store::KeyedPut(txn, kv, kSpoolDedupeNamespace, key, job.id);
        if (!put.ok()) return put.error();
      }
      if (Status put = PutJob(txn, *env_, nullptr, job); !put.ok()) return put;
      out.push_back({job.id, false});
    }
    return {};
  });
  if (!st.ok()) {
    unlink_all();
    return st.error();
  }
  bool created = false;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (duplicate[i]) {
      unlink(jobs[i].file.c_str());
    } else {
      created = true;
    }
  }
  SyncDir(spool_dir_);
  if (created) {
    std::lock_guard<std::mutex> lock(usage_mutex_);
    used_bytes_ += message.size();
    Poke();
  }
  return out;
}

uint64_t JobQueue::UsedBytes() {
  std::lock_guard<std::mutex> lock(usage_mutex_);
  int64_t now = SteadySeconds() + 1;  // never 0
  if (used_scanned_ != 0 && now - used_scanned_ < kQuotaScanSeconds) return used_bytes_;
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;  // a message linked by several jobs counts once
  if (DIR* dir = opendir(spool_dir_.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name.starts_with("in-")) continue;  // messages still arriving: counted when spooled
      struct stat st;
      if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISREG(st.st_mode)) continue;
      if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
      total += static_cast<uint64_t>(st.st_size);
    }
    closedir(dir);
  }
  used_bytes_ = total;
  used_scanned_ = now;
  return used_bytes_;
}

size_t JobQueue::RemoveStaleIncoming() {
  size_t removed = 0;
  DIR* dir = opendir(spool_dir_.c_str());
  if (!dir) return 0;
  while (dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name.starts_with("in-") && name.ends_with(".tmp") &&
        unlinkat(dirfd(dir), entry->d_name, 0) == 0) {
      ++removed;
    }
  }
  closedir(dir);
  return removed;
}

void JobQueue::Poke() const {
  UniqueFd fd(open(WakePath(spool_dir_).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return;  // ENXIO: no supervisor listening; ENOENT: never started
  struct stat st;
  if (fstat(fd.get(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    char one = 'j';
    ssize_t ignored = write(fd.get(), &one, 1);  // EAGAIN: already plenty of wake-ups pending
    (void)ignored;
  }
}

Result<std::optional<Job>> JobQueue::GetLocal(std::string_view id) const {
  std::optional<Job> out;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    out.reset();
    if (id.empty() || id.size() > 128) return {};
    auto raw = txn.Get(env_->dbi(store::Db::kSpool), id);
    if (!raw.ok()) return raw.error();
    if (!raw->has_value()) return {};
    auto job = DecodeJob(**raw);
    if (!job.ok()) return job.error();
    out = std::move(*job);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::vector<Job>> JobQueue::ListLocal(size_t limit, std::optional<JobState> state) const {
  std::vector<Job> out;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    out.clear();
    if (state) {  // through the index: only jobs in that state are read
      std::vector<std::string> ids;
      Status scanned = ScanIndex(txn, *env_, *state, INT64_MAX, [&](std::string_view key) {
        ids.emplace_back(IndexId(key));
        return ids.size() < limit;
      });
      if (!scanned.ok()) return scanned;
      std::sort(ids.begin(), ids.end());  // ids are ordered by creation: oldest first
      for (const auto& id : ids) {
        auto raw = txn.Get(env_->dbi(store::Db::kSpool), id);
        if (!raw.ok()) return raw.error();
        if (!raw->has_value()) continue;
        auto job = DecodeJob(**raw);
        if (job.ok() && job->state == *state) out.push_back(std::move(*job));
      }
      return {};
    }
    auto cursor = store::Cursor::Open(txn, env_->dbi(store::Db::kSpool));
    if (!cursor.ok()) return cursor.error();
    auto at = cursor->First();
    for (; at.ok() && *at && out.size() < limit; at = cursor->Next()) {
      auto job = DecodeJob(cursor->value());
      if (!job.ok()) continue;
      if (state && job->state != *state) continue;
      out.push_back(std::move(*job));
    }
    if (!at.ok()) return at.error();
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::string> JobQueue::ReadMessage(const Job& job) const {
  if (job.file.empty() && shared_) return shared_->ReadMessage(job.id);  // a shared job
  std::ifstream in(job.file, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound,
                     "spool: cannot read " + job.file + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::vector<Job>> JobQueue::ClaimDue(int64_t now, size_t max,
                                            const std::function<bool(const Job&)>& accept) {
  return ClaimDue(now, max, accept, nullptr);
}

Result<std::vector<Job>> JobQueue::ClaimDue(int64_t now, size_t max,
                                            const std::function<bool(const Job&)>& accept,
                                            const std::function<void()>& begin) {
  std::vector<Job> out;
  if (max == 0) return out;
  // A read transaction first: most polls find nothing due and take no writer lock.
  auto next = NextDueLocal();
  if (!next.ok()) return next.error();
  if (!*next || **next > now) return out;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    out.clear();
    if (begin) begin();
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    std::vector<Job> due;
    Status bad;
    Status scanned = ScanIndex(txn, *env_, JobState::kQueued, now, [&](std::string_view key) {
      auto raw = txn.Get(dbi, IndexId(key));
      if (!raw.ok()) {
        bad = raw.error();
        return false;
      }
      if (!raw->has_value()) return true;  // a stale entry; RebuildIndex drops it
      auto job = DecodeJob(**raw);
      if (!job.ok() || job->state != JobState::kQueued) return true;
      if (accept && !accept(*job)) return true;
      due.push_back(std::move(*job));
      return due.size() < max;
    });
    if (!scanned.ok()) return scanned;
    if (!bad.ok()) return bad;
    for (Job& job : due) {
      Job before = job;
      job.state = JobState::kRunning;
      job.attempts += 1;
      job.updated = now;
      if (Status put = PutJob(txn, *env_, &before, job); !put.ok()) return put;
    }
    out = std::move(due);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::optional<int64_t>> JobQueue::NextDueLocal() const {
  std::optional<int64_t> next;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    next.reset();
    return ScanIndex(txn, *env_, JobState::kQueued, INT64_MAX, [&](std::string_view key) {
      next = IndexTime(key);
      return false;
    });
  });
  if (!st.ok()) return st.error();
  return next;
}

Result<size_t> JobQueue::CountLocal(JobState state) const {
  size_t count = 0;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    count = 0;
    return ScanIndex(txn, *env_, state, INT64_MAX, [&](std::string_view) {
      ++count;
      return true;
    });
  });
  if (!st.ok()) return st.error();
  return count;
}

Result<size_t> JobQueue::RebuildIndex() {
  size_t rebuilt = 0;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    rebuilt = 0;
    MDB_stat spool{}, index{};
    mdb_stat(txn.raw(), env_->dbi(store::Db::kSpool), &spool);
    mdb_stat(txn.raw(), env_->dbi(store::Db::kSpoolIndex), &index);
    if (spool.ms_entries == index.ms_entries) return {};
    if (int rc = mdb_drop(txn.raw(), env_->dbi(store::Db::kSpoolIndex), 0); rc != MDB_SUCCESS) {
      return MakeError(ErrorCode::kStore, std::string("spool: drop index: ") + mdb_strerror(rc));
    }
    auto cursor = store::Cursor::Open(txn, env_->dbi(store::Db::kSpool));
    if (!cursor.ok()) return cursor.error();
    std::vector<std::string> keys;
    auto at = cursor->First();
    for (; at.ok() && *at; at = cursor->Next()) {
      auto job = DecodeJob(cursor->value());
      if (job.ok()) keys.push_back(IndexKey(*job));
    }
    if (!at.ok()) return at.error();
    for (const auto& key : keys) {
      if (Status put = txn.Put(env_->dbi(store::Db::kSpoolIndex), key, ""); !put.ok()) return put;
    }
    rebuilt = keys.size();
    return {};
  });
  if (!st.ok()) return st.error();
  return rebuilt;
}

Status JobQueue::Update(std::string_view id, const std::function<Status(Job&)>& change, Job* out) {
  return env_->Write([&](store::WriteTxn& txn) -> Status {
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    auto raw = txn.Get(dbi, id);
    if (!raw.ok()) return raw.error();
    if (!raw->has_value()) {
      return MakeError(ErrorCode::kNotFound, "job " + std::string(id) + " not found");
    }
    auto job = DecodeJob(**raw);
    if (!job.ok()) return job.error();
    Job before = *job;
    if (Status st = change(*job); !st.ok()) return st;
    if (out) *out = *job;
    return PutJob(txn, *env_, &before, *job);
  });
}

Result<Job> JobQueue::Finish(std::string_view id, Outcome outcome, std::string_view reason,
                             int64_t now, const RetryPolicy& policy) {
  Job result;
  Status st = UpdateAnywhere(
      id, /*only_leased=*/true,
      [&](Job& job) -> Status {
        job.updated = now;
        switch (outcome) {
          case Outcome::kDone:
            job.state = JobState::kDone;
            job.last_error = std::string(reason);
            break;
          case Outcome::kPark:
            job.state = JobState::kParked;
            job.last_error = std::string(reason);
            break;
          case Outcome::kDefer:
            job.last_error = std::string(reason);
            job.state = JobState::kQueued;
            if (job.attempts > 0) job.attempts -= 1;  // it did not run
            job.next_try = now + std::max<int64_t>(policy.defer_seconds, 1);
            break;
          case Outcome::kRetry:
            job.last_error = std::string(reason);
            if (job.attempts >= static_cast<uint64_t>(policy.max_attempts)) {
              job.state = JobState::kParked;
            } else {
              job.state = JobState::kQueued;
              job.next_try =
                  now + RetryDelay(job.attempts, policy.initial_seconds, policy.max_seconds);
            }
            break;
        }
        return {};
      },
      &result);
  if (!st.ok()) return st.error();
  if (result.state == JobState::kDone && !result.file.empty()) unlink(result.file.c_str());
  const char* decision = result.state == JobState::kDone     ? "done"
                         : result.state == JobState::kParked ? "parked"
                         : outcome == Outcome::kDefer        ? "deferred"
                                                             : "retry";
  (void)store::Counters(env_).Add(std::string("threadmill_job_attempts_total{decision=\"") +
                                  decision + "\"}");  // best effort: the log line is the record
  return result;
}

Status JobQueue::SetVerdicts(std::string_view id, const Job& from) {
  return UpdateAnywhere(
      id, /*only_leased=*/false,
      [&](Job& job) -> Status {
        job.dmarc = from.dmarc;
        job.spf = from.spf;
        job.dkim = from.dkim;
        job.sender_authenticated = from.sender_authenticated;
        job.no_reply_reason = from.no_reply_reason;
        job.reauth = from.reauth;
        return {};
      },
      nullptr);
}

Result<size_t> JobQueue::RecoverRunningLocal(int64_t now) {
  size_t count = 0;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    count = 0;
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    std::vector<std::string> ids;
    Status scanned =
        ScanIndex(txn, *env_, JobState::kRunning, INT64_MAX, [&](std::string_view key) {
          ids.emplace_back(IndexId(key));
          return true;
        });
    if (!scanned.ok()) return scanned;
    for (const auto& id : ids) {
      auto raw = txn.Get(dbi, id);
      if (!raw.ok()) return raw.error();
      if (!raw->has_value()) continue;
      auto job = DecodeJob(**raw);
      if (!job.ok() || job->state != JobState::kRunning) continue;
      Job before = *job;
      job->state = JobState::kQueued;
      job->next_try = now;
      job->updated = now;
      job->last_error = "interrupted";
      if (Status put = PutJob(txn, *env_, &before, *job); !put.ok()) return put;
      ++count;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Status JobQueue::Retry(std::string_view id, int64_t now) {
  Status st = UpdateAnywhere(
      id, /*only_leased=*/false,
      [&](Job& job) -> Status {
        if (job.state == JobState::kRunning) {
          return MakeError(ErrorCode::kInvalidInput, "job is running");
        }
        if (job.state == JobState::kDone) {
          return MakeError(ErrorCode::kInvalidInput, "job is done (its message is gone)");
        }
        job.state = JobState::kQueued;
        job.attempts = 0;
        job.next_try = now;
        job.updated = now;
        job.last_error = "retried by operator";
        return {};
      },
      nullptr);
  if (st.ok()) Poke();
  return st;
}

Status JobQueue::Park(std::string_view id, std::string_view reason, int64_t now) {
  return UpdateAnywhere(
      id, /*only_leased=*/false,
      [&](Job& job) -> Status {
        if (job.state == JobState::kRunning) {
          return MakeError(ErrorCode::kInvalidInput, "job is running");
        }
        if (job.state == JobState::kDone) return MakeError(ErrorCode::kInvalidInput, "job is done");
        job.state = JobState::kParked;
        job.updated = now;
        job.last_error = std::string(reason);
        return {};
      },
      nullptr);
}

Result<size_t> JobQueue::SweepDoneLocal(int64_t older_than, size_t batch) {
  size_t count = 0;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    count = 0;
    std::vector<std::string> doomed;  // index keys
    Status scanned =
        ScanIndex(txn, *env_, JobState::kDone, older_than - 1, [&](std::string_view key) {
          doomed.emplace_back(key);
          return doomed.size() < batch;
        });
    if (!scanned.ok()) return scanned;
    std::vector<std::string> dedupe_keys;  // their (Message-ID, recipient, handler) records
    for (const auto& key : doomed) {
      auto record = txn.Get(env_->dbi(store::Db::kSpool), IndexId(key));
      if (!record.ok()) return record.error();
      if (!record->has_value()) continue;
      auto job = DecodeJob(**record);
      if (job.ok() && !job->message_id.empty()) {
        dedupe_keys.push_back(SpoolDedupeKey(job->message_id, job->recipient, job->handler));
      }
    }
    for (const auto& key : doomed) {
      auto del = txn.Del(env_->dbi(store::Db::kSpool), IndexId(key));
      if (!del.ok()) return del.error();
      del = txn.Del(env_->dbi(store::Db::kSpoolIndex), key);
      if (!del.ok()) return del.error();
    }
    for (const auto& key : dedupe_keys) {
      auto del = store::KeyedDelete(txn, env_->dbi(store::Db::kKv), kSpoolDedupeNamespace, key);
      if (!del.ok()) return del.error();
    }
    count = doomed.size();
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Status JobQueue::RemoveLocal(const Job& job) {
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    auto raw = txn.Get(env_->dbi(store::Db::kSpool), job.id);
    if (!raw.ok()) return raw.error();
    if (!raw->has_value()) return {};
    auto stored = DecodeJob(**raw);
    if (!stored.ok()) return stored.error();
    if (auto del = txn.Del(env_->dbi(store::Db::kSpoolIndex), IndexKey(*stored)); !del.ok()) {
      return del.error();
    }
    if (auto del = txn.Del(env_->dbi(store::Db::kSpool), job.id); !del.ok()) return del.error();
    if (!stored->message_id.empty()) {
      std::string key = SpoolDedupeKey(stored->message_id, stored->recipient, stored->handler);
      auto del = store::KeyedDelete(txn, env_->dbi(store::Db::kKv), kSpoolDedupeNamespace, key);
      if (!del.ok()) return del.error();
    }
    return {};
  });
  if (!st.ok()) return st;
  if (!job.file.empty()) unlink(job.file.c_str());
  return {};
}

}  // namespace threadmill::runtime
