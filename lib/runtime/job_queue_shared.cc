// job_queue_shared.cc - JobQueue with a shared queue (store/job_backend.h, [store] backend =
// "postgresql"): the calls that pick the shared queue or the local LMDB spool, the fallback
// to the local spool and the push back (job_queue.h SHARED QUEUE). Without a shared queue
// every call here is the local spool's (job_queue.cc).
#include <algorithm>
#include <chrono>

#include "common/ascii.h"
#include "runtime/job_queue.h"
#include "store/counters.h"

namespace threadmill::runtime {
namespace {

char StateChar(JobState state) {
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

JobState StateOf(char c) {
  switch (c) {
    case 'R':
      return JobState::kRunning;
    case 'P':
      return JobState::kParked;
    case 'D':
      return JobState::kDone;
    default:
      return JobState::kQueued;
  }
}

store::JobRow ToRow(const Job& job) {
  store::JobRow row;
  row.id = job.id;
  row.handler = job.handler;
  row.state = StateChar(job.state);
  row.attempts = job.attempts;
  row.next_try = job.next_try;
  row.updated = job.updated;
  row.last_error = job.last_error;
  row.message_id = job.message_id;
  row.recipient = ascii::ToLower(job.recipient);
  Job stored = job;
  stored.file.clear();  // the message is in the shared queue
  row.record = EncodeJob(stored);
  return row;
}

// The row's columns win over its record; an undecodable record still gives a job the
// supervisor can hand out (the worker then parks it), never one stuck running.
Job FromRow(const store::JobRow& row) {
  auto decoded = DecodeJob(row.record);
  Job job = decoded.ok() ? std::move(*decoded) : Job{};
  job.id = row.id;
  job.handler = row.handler;
  job.state = StateOf(row.state);
  job.attempts = static_cast<uint32_t>(std::max<int64_t>(row.attempts, 0));
  job.next_try = row.next_try;
  job.updated = row.updated;
  job.last_error = decoded.ok() ? row.last_error : "undecodable job record";
  job.file.clear();
  job.taken_from = row.taken_from;
  return job;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Errors that mean "the database is not there now" (the local spool takes the jobs), not
// "this message is wrong".
bool Unreachable(const Error& e) {
  return e.code == ErrorCode::kTemporary || e.code == ErrorCode::kStore;
}

}  // namespace

Result<std::vector<Enqueued>> JobQueue::EnqueueMessage(const std::vector<JobInput>& inputs,
                                                       IncomingMessage& message,
                                                       uint64_t quota_bytes) {
  if (!shared_ || inputs.empty()) return EnqueueLocal(inputs, message, quota_bytes);
  auto shared = EnqueueShared(inputs, message);
  if (shared.ok() || !Unreachable(shared.error())) return shared;
  auto local = EnqueueLocal(inputs, message, quota_bytes);
  if (!local.ok()) {
    return MakeError(local.error().code, "shared queue: " + shared.error().message +
                                             "; local fallback spool: " + local.error().message);
  }
  for (Enqueued& e : *local) e.fallback = true;
  (void)store::Counters(env_).Add("threadmill_jobs_fallback_total");  // best effort
  return local;
}

Result<std::vector<Enqueued>> JobQueue::EnqueueShared(const std::vector<JobInput>& inputs,
                                                      IncomingMessage& message) {
  auto raw = message.Contents();
  if (!raw.ok()) return MakeError(ErrorCode::kInvalidInput, raw.error().message);
  std::vector<store::JobRow> rows;
  for (const JobInput& in : inputs) {
    if (in.handler.empty()) return MakeError(ErrorCode::kInvalidInput, "spool: no handler");
    Job job = MakeJob(in, "", raw->size());
    rows.push_back(ToRow(job));
  }
  auto inserted = shared_->Insert(rows, *raw);
  if (!inserted.ok()) return inserted.error();
  std::vector<Enqueued> out;
  bool created = false;
  for (const store::InsertedJob& job : *inserted) {
    out.push_back({job.id, job.duplicate, false});
    created = created || !job.duplicate;
  }
  if (created) Poke();
  return out;
}

Result<std::optional<Job>> JobQueue::Get(std::string_view id) const {
  auto local = GetLocal(id);
  if (!shared_ || !local.ok() || local->has_value()) return local;
  if (id.empty() || id.size() > 128) return std::optional<Job>();
  auto row = shared_->Get(id);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return std::optional<Job>();
  return std::optional<Job>(FromRow(**row));
}

Result<std::vector<Job>> JobQueue::List(size_t limit, std::optional<JobState> state) const {
  auto local = ListLocal(limit, state);
  if (!shared_ || !local.ok()) return local;
  auto rows = shared_->List(limit, state ? std::optional<char>(StateChar(*state)) : std::nullopt);
  if (!rows.ok()) return rows.error();
  std::vector<Job> out = std::move(*local);
  for (const store::JobRow& row : *rows) out.push_back(FromRow(row));
  std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::vector<Job>> JobQueue::ClaimDue(int64_t now,
                                            const std::map<std::string, size_t>& capacity,
                                            int64_t lease_seconds) {
  std::vector<Job> out;
  std::map<std::string, size_t> rest = capacity;
  if (shared_) {
    auto claimed = shared_->ClaimDue(now, capacity, lease_seconds);
    if (!claimed.ok()) return claimed.error();
    for (const store::JobRow& row : *claimed) {
      Job job = FromRow(row);
      if (auto it = rest.find(job.handler); it != rest.end() && it->second > 0) --it->second;
      out.push_back(std::move(job));
    }
  }
  size_t total = 0;
  for (const auto& [handler, n] : rest) total += n;
  if (total == 0) return out;
  // The lambda may run again (a retried write transaction): it starts from a fresh copy.
  std::map<std::string, size_t> left;
  const bool local_only_kinds = shared_ != nullptr;  // inbound fallback jobs wait for a push
  auto local = ClaimDue(
      now, total,
      [&](const Job& job) {
        if (local_only_kinds && job.kind.empty()) return false;
        auto it = left.find(job.handler);
        if (it == left.end() || it->second == 0) return false;
        --it->second;
        return true;
      },
      [&] { left = rest; });
  if (!local.ok()) {
    if (!out.empty()) return out;  // claimed shared jobs must not be lost
    return local.error();
  }
  for (Job& job : *local) out.push_back(std::move(job));
  return out;
}

Result<std::optional<int64_t>> JobQueue::NextDue() const {
  // With a shared queue the local spool holds only draft decisions (poked when queued) and
  // fallback jobs that are pushed, not claimed: waking for them would spin.
  if (!shared_) return NextDueLocal();
  return shared_->NextDue();
}

Result<size_t> JobQueue::Count(JobState state) const {
  auto local = CountLocal(state);
  if (!shared_ || !local.ok()) return local;
  auto shared = shared_->Count(StateChar(state));
  if (!shared.ok()) return shared.error();
  return *local + *shared;
}

Result<size_t> JobQueue::CountShared(JobState state) const {
  if (!shared_) return size_t{0};
  return shared_->Count(StateChar(state));
}

Result<size_t> JobQueue::RecoverRunning(int64_t now) {
  auto local = RecoverRunningLocal(now);
  if (!shared_ || !local.ok()) return local;
  // An unreachable database must not stop a start: this host's leases then expire and
  // ClaimDue (of any host) takes their jobs back.
  auto shared = shared_->RecoverRunning(now);
  return *local + (shared.ok() ? *shared : 0);
}

Result<size_t> JobQueue::SweepDone(int64_t older_than, size_t batch) {
  auto local = SweepDoneLocal(older_than, batch);
  if (!shared_ || !local.ok()) return local;
  auto shared = shared_->SweepDone(older_than, batch);
  if (!shared.ok()) return shared.error();
  return std::max(*local, *shared);  // the caller repeats while a full batch went
}

Status JobQueue::UpdateAnywhere(std::string_view id, bool only_leased,
                                const std::function<Status(Job&)>& change, Job* out) {
  if (!shared_) return Update(id, change, out);
  auto local = GetLocal(id);
  if (!local.ok()) return local.error();
  if (local->has_value()) return Update(id, change, out);
  return shared_->Update(id, only_leased, [&](store::JobRow& row) -> Status {
    Job job = FromRow(row);
    if (Status st = change(job); !st.ok()) return st;
    if (out) *out = job;
    row = ToRow(job);
    return {};
  });
}

Result<size_t> JobQueue::PushLocal(size_t batch) {
  if (!shared_) return size_t{0};
  auto queued = ListLocal(batch, JobState::kQueued);
  if (!queued.ok()) return queued.error();
  size_t moved = 0;
  for (const Job& job : *queued) {
    if (!job.kind.empty()) continue;  // draft decisions stay (file comment)
    auto raw = ReadMessage(job);
    if (!raw.ok() && raw.error().code == ErrorCode::kNotFound) {
      // Its spool file is gone: it cannot run anywhere. Parked here, it no longer blocks the
      // others (the operator sees it in `threadmillctl queue list parked`).
      Status parked = Update(
          job.id,
          [&](Job& j) -> Status {
            j.state = JobState::kParked;
            j.updated = Now();
            j.last_error = "spool-file missing: " + raw.error().message;
            return {};
          },
          nullptr);
      if (!parked.ok()) return parked.error();
      continue;
    }
    if (!raw.ok()) return raw.error();
    auto inserted = shared_->Insert({ToRow(job)}, *raw);
    if (!inserted.ok()) return inserted.error();
    if (Status removed = RemoveLocal(job); !removed.ok()) return removed.error();
    ++moved;
    (void)store::Counters(env_).Add(inserted->front().duplicate
                                        ? "threadmill_jobs_pushed_total{result=\"duplicate\"}"
                                        : "threadmill_jobs_pushed_total{result=\"pushed\"}");
  }
  return moved;
}

Result<size_t> JobQueue::LocalFallbackDepth() const {
  if (!shared_) return size_t{0};
  auto queued = ListLocal(SIZE_MAX, JobState::kQueued);
  if (!queued.ok()) return queued.error();
  return static_cast<size_t>(
      std::count_if(queued->begin(), queued->end(), [](const Job& j) { return j.kind.empty(); }));
}

}  // namespace threadmill::runtime
