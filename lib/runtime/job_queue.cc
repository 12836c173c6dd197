#include "runtime/job_queue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "store/counters.h"
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

Status WriteDurably(const std::string& dir, const std::string& name, std::string_view data) {
  std::string tmp = dir + "/" + name + ".tmp";
  std::string final_path = dir + "/" + name + ".eml";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return SysError("create " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Error e = SysError("write " + tmp);
      close(fd);
      unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(w);
  }
  if (fsync(fd) != 0) {
    Error e = SysError("fsync " + tmp);
    close(fd);
    unlink(tmp.c_str());
    return e;
  }
  close(fd);
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    Error e = SysError("rename " + tmp);
    unlink(tmp.c_str());
    return e;
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return {};
}

}  // namespace

JobQueue::JobQueue(std::shared_ptr<store::Environment> env, std::string spool_dir)
    : env_(std::move(env)), spool_dir_(std::move(spool_dir)) {
  if (mkdir(spool_dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create spool directory " + spool_dir_ + ": " +
                             std::strerror(errno));
  }
}

Result<std::string> JobQueue::Enqueue(const JobInput& in) {
  Job job;
  job.id = NewJobId();
  job.handler = in.handler;
  job.state = JobState::kQueued;
  job.created = job.updated = job.next_try = Now();
  job.mail_from = in.mail_from;
  job.recipient = in.recipient;
  job.client_addr = in.client_addr;
  job.queue_id = in.queue_id;
  job.message_id = in.message_id;
  job.thread_id = in.thread_id;
  job.thread_owner = in.thread_owner;
  job.thread_known = in.thread_known;
  job.references_count = in.references_count;
  job.dmarc = in.dmarc.empty() ? "none" : in.dmarc;
  job.spf = in.spf.empty() ? "none" : in.spf;
  job.dkim = in.dkim.empty() ? "none" : in.dkim;
  job.no_reply_reason = in.no_reply_reason;
  job.sender_authenticated = in.sender_authenticated;
  job.route = in.route;
  job.received_time = in.received_time ? in.received_time : job.created;
  job.size = in.raw_message.size();
  job.file = spool_dir_ + "/" + job.id + ".eml";
  if (job.handler.empty()) return MakeError(ErrorCode::kInvalidInput, "spool: no handler");

  if (Status st = WriteDurably(spool_dir_, job.id, in.raw_message); !st.ok()) return st.error();
  std::string record = EncodeJob(job);
  Status st = env_->Write(
      [&](store::WriteTxn& txn) { return txn.Put(env_->dbi(store::Db::kSpool), job.id, record); });
  if (!st.ok()) {
    unlink(job.file.c_str());
    return st.error();
  }
  Poke();
  return job.id;
}

void JobQueue::Poke() const {
  int fd = open(WakePath(spool_dir_).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;  // ENXIO: no supervisor listening; ENOENT: never started
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    char one = 'j';
    ssize_t ignored = write(fd, &one, 1);  // EAGAIN: already plenty of wake-ups pending
    (void)ignored;
  }
  close(fd);
}

Result<std::optional<Job>> JobQueue::Get(std::string_view id) const {
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

Result<std::vector<Job>> JobQueue::List(size_t limit, std::optional<JobState> state) const {
  std::vector<Job> out;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    out.clear();
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
  std::vector<Job> out;
  if (max == 0) return out;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    out.clear();
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    std::vector<Job> due;
    {
      auto cursor = store::Cursor::Open(txn, dbi);
      if (!cursor.ok()) return cursor.error();
      for (auto at = cursor->First(); at.ok() && *at && due.size() < max; at = cursor->Next()) {
        auto job = DecodeJob(cursor->value());
        if (!job.ok() || job->state != JobState::kQueued || job->next_try > now) continue;
        if (accept && !accept(*job)) continue;
        due.push_back(std::move(*job));
      }
    }
    for (Job& job : due) {
      job.state = JobState::kRunning;
      job.attempts += 1;
      job.updated = now;
      if (Status put = txn.Put(dbi, job.id, EncodeJob(job)); !put.ok()) return put;
    }
    out = std::move(due);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
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
    if (Status st = change(*job); !st.ok()) return st;
    if (out) *out = *job;
    return txn.Put(dbi, id, EncodeJob(*job));
  });
}

Result<Job> JobQueue::Finish(std::string_view id, Outcome outcome, std::string_view reason,
                             int64_t now, const RetryPolicy& policy) {
  Job result;
  Status st = Update(
      id,
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
                                                             : "retry";
  (void)store::Counters(env_).Add(std::string("threadmill_job_attempts_total{decision=\"") +
                                  decision + "\"}");  // best effort: the log line is the record
  return result;
}

Result<size_t> JobQueue::RecoverRunning(int64_t now) {
  size_t count = 0;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    count = 0;
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    std::vector<Job> running;
    {
      auto cursor = store::Cursor::Open(txn, dbi);
      if (!cursor.ok()) return cursor.error();
      for (auto at = cursor->First(); at.ok() && *at; at = cursor->Next()) {
        auto job = DecodeJob(cursor->value());
        if (job.ok() && job->state == JobState::kRunning) running.push_back(std::move(*job));
      }
    }
    for (Job& job : running) {
      job.state = JobState::kQueued;
      job.next_try = now;
      job.updated = now;
      job.last_error = "interrupted";
      if (Status put = txn.Put(dbi, job.id, EncodeJob(job)); !put.ok()) return put;
    }
    count = running.size();
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Status JobQueue::Retry(std::string_view id, int64_t now) {
  Status st = Update(
      id,
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
  return Update(
      id,
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

Result<size_t> JobQueue::SweepDone(int64_t older_than) {
  size_t count = 0;
  Status st = env_->Write([&](store::WriteTxn& txn) -> Status {
    count = 0;
    MDB_dbi dbi = env_->dbi(store::Db::kSpool);
    std::vector<std::string> doomed;
    {
      auto cursor = store::Cursor::Open(txn, dbi);
      if (!cursor.ok()) return cursor.error();
      for (auto at = cursor->First(); at.ok() && *at && doomed.size() < 1000; at = cursor->Next()) {
        auto job = DecodeJob(cursor->value());
        if (job.ok() && job->state == JobState::kDone && job->updated < older_than) {
          doomed.emplace_back(cursor->key());
        }
      }
    }
    for (const auto& key : doomed) {
      auto del = txn.Del(dbi, key);
      if (!del.ok()) return del.error();
    }
    count = doomed.size();
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

}  // namespace threadmill::runtime
