#include "reply/ledger.h"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "store/keys.h"
#include "store/lmdb_ledger_backend.h"

namespace threadmill::reply {
namespace {

using nlohmann::json;

const std::string kOnce(store::kLedgerOnceNs);
const std::string kRate(store::kLedgerRateNs);
const std::string kThread(store::kLedgerThreadNs);
const std::string kSend(store::kLedgerSendNs);
const std::string kSendRate(store::kLedgerSendRateNs);
const std::string kTurn(store::kLedgerTurnNs);

std::string LowerAddress(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string RateKeyAddress(std::string_view address) {
  size_t at = address.rfind('@');
  std::string local(address.substr(0, at == std::string_view::npos ? address.size() : at));
  std::string domain(at == std::string_view::npos ? "" : address.substr(at + 1));
  bool quoted = local.size() >= 2 && local.front() == '"' && local.back() == '"';
  if (!quoted) {
    // The sub-address tag ("+tag", Postfix's and Sendmail's default delimiter) names the
    // same mailbox; "-" is left alone (too many real names contain it).
    size_t plus = local.find('+');
    if (plus != std::string::npos && plus > 0) local.resize(plus);
  }
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  std::string out = LowerAddress(local);
  if (at != std::string_view::npos) out += '@' + LowerAddress(domain);
  return out;
}

namespace {

std::string OnceKey(std::string_view message_id, std::string_view recipient) {
  return std::string(message_id) + '\0' + LowerAddress(recipient);
}

std::string SendKey(std::string_view job_id, uint32_t index) {
  return std::string(job_id) + '\0' + std::to_string(index);
}

std::string Encode(const LedgerEntry& e) {
  json j = {{"v", 1},         {"reply", e.reply_id},  {"state", e.state},
            {"time", e.time}, {"handler", e.handler}, {"thread", e.thread_id}};
  if (e.sendmail_pid > 0) {
    j["pid"] = e.sendmail_pid;
    j["pid_start"] = e.sendmail_start;
  }
  if (e.reinject_time > 0) j["reinjected"] = e.reinject_time;
  if (!e.gate_marker.empty()) j["gate"] = e.gate_marker;
  if (!e.owner.empty()) {
    j["owner"] = e.owner;
    j["claimed"] = e.claimed;
  }
  if (!e.message.empty()) {
    j["message"] = json::binary_t(std::vector<uint8_t>(e.message.begin(), e.message.end()));
    j["sender"] = e.envelope_sender;
    j["rcpts"] = e.recipients;
  }
  auto bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

Result<LedgerEntry> Decode(std::string_view raw) {
  try {
    json j = json::from_msgpack(raw.begin(), raw.end());
    LedgerEntry e;
    e.reply_id = j.value("reply", "");
    e.state = j.value("state", "");
    e.time = j.value("time", int64_t{0});
    e.handler = j.value("handler", "");
    e.thread_id = j.value("thread", "");
    e.sendmail_pid = j.value("pid", int64_t{0});
    e.sendmail_start = j.value("pid_start", uint64_t{0});
    e.reinject_time = j.value("reinjected", int64_t{0});
    e.gate_marker = j.value("gate", "");
    e.owner = j.value("owner", "");
    e.claimed = j.value("claimed", int64_t{0});
    if (j.contains("message") && j["message"].is_binary()) {
      const auto& bin = j["message"].get_binary();
      e.message.assign(bin.begin(), bin.end());
      e.envelope_sender = j.value("sender", "");
      e.recipients = j.value("rcpts", std::vector<std::string>{});
    }
    return e;
  } catch (const std::exception& ex) {
    return MakeError(ErrorCode::kStore, std::string("replied: corrupt entry: ") + ex.what());
  }
}

// Claim-or-get under ns/key in an open write transaction.
Result<LedgerEntry> ClaimIn(store::LedgerTxn& txn, const std::string& ns, const std::string& key,
                            const LedgerEntry& proposed, bool* existed) {
  auto hit = txn.Get(ns, key);
  if (!hit.ok()) return hit.error();
  if (hit->has_value()) {
    auto entry = Decode(**hit);
    if (!entry.ok()) return entry.error();
    *existed = true;
    return entry;
  }
  *existed = false;
  if (Status put = txn.Put(ns, key, Encode(proposed)); !put.ok()) return put.error();
  return proposed;
}

// Rewrites the entry at ns/key with change(entry). With `owner` set, an entry another host
// owns now is left alone (kRefused "other-host").
Status Rewrite(store::LedgerBackend& backend, const std::string& ns, const std::string& key,
               const std::function<void(LedgerEntry&)>& change, std::string_view owner = {}) {
  return backend.Write([&](store::LedgerTxn& txn) -> Status {
    auto hit = txn.Get(ns, key);
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return MakeError(ErrorCode::kNotFound, "replied: no such entry");
    auto entry = Decode(**hit);
    if (!entry.ok()) return entry.error();
    if (!owner.empty() && !entry->owner.empty() && entry->owner != owner) {
      return MakeError(ErrorCode::kRefused, "other-host");
    }
    change(*entry);
    return txn.Put(ns, key, Encode(*entry));
  });
}

Status MarkIn(store::LedgerBackend& env, const std::string& ns, const std::string& key) {
  return Rewrite(env, ns, key, [](LedgerEntry& e) {
    e.state = "sent";
    e.message.clear();
    e.sendmail_pid = 0;
    e.sendmail_start = 0;
    e.gate_marker.clear();
  });
}

// Takes one token of the handler's send bucket (capacity and refill: per_hour an hour).
// Returns false when the bucket is empty.
Result<bool> TakeSendToken(store::LedgerTxn& txn, const std::string& handler, int64_t now,
                           int64_t per_hour) {
  if (per_hour <= 0) return true;
  double tokens = static_cast<double>(per_hour);
  auto hit = txn.Get(kSendRate, handler);
  if (!hit.ok()) return hit.error();
  if (hit->has_value()) {
    try {
      json j = json::parse(**hit);
      double left = j.value("tokens", tokens);
      int64_t then = j.value("time", now);
      double refill = static_cast<double>(std::max<int64_t>(0, now - then)) *
                      static_cast<double>(per_hour) / 3600.0;
      tokens = std::min(static_cast<double>(per_hour), left + refill);
    } catch (const std::exception&) {
    }
  }
  if (tokens < 1.0) return false;
  json j = {{"tokens", tokens - 1.0}, {"time", now}};
  if (Status put = txn.Put(kSendRate, handler, j.dump()); !put.ok()) return put.error();
  return true;
}

// The ledger's view of one reply: what Evaluate read, for Claim to write back.
struct RateState {
  std::optional<LedgerEntry> resume;  // an earlier claim of this message, not sent yet
  std::string rate_key;               // handler '\0' normalised sender
  uint64_t thread_count = 0;
  double thread_tokens = 0;  // after refill, before this reply
  int64_t fast_turns = 0;    // the count to store when this reply is sent
};

// Per thread: a cap in all (rate-thread) and an hourly token bucket (rate-thread-hour).
Result<std::string> EvaluateThread(const store::LedgerTxn& txn, const ClaimLimits& limits,
                                   int64_t now, RateState* state) {
  double per_hour = static_cast<double>(limits.thread_replies_per_hour);
  state->thread_tokens = per_hour;
  auto t = txn.Get(kThread, limits.thread_id);
  if (!t.ok()) return t.error();
  if (t->has_value()) {
    try {
      json j = json::parse(**t);
      state->thread_count = j.value("count", uint64_t{0});
      if (j.contains("tokens")) {
        double elapsed = static_cast<double>(std::max<int64_t>(0, now - j.value("time", now)));
        state->thread_tokens =
            std::min(per_hour, j.value("tokens", per_hour) + elapsed * per_hour / 3600.0);
      }
    } catch (const std::exception&) {
      state->thread_count = 0;
    }
  }
  if (limits.max_replies_per_thread > 0 &&
      state->thread_count >= static_cast<uint64_t>(limits.max_replies_per_thread)) {
    return std::string("rate-thread");
  }
  if (limits.thread_replies_per_hour > 0 && state->thread_tokens < 1.0) {
    return std::string("rate-thread-hour");
  }
  return std::string();
}

// The conversation loop guard: fast turns of the same sender in a row (ledger.h ClaimLimits).
Result<std::string> EvaluateLoop(const store::LedgerTxn& txn, const ClaimLimits& limits,
                                 RateState* state) {
  auto turn = txn.Get(kTurn, state->rate_key);
  if (!turn.ok()) return turn.error();
  if (!turn->has_value()) return std::string();
  int64_t last = 0, fast = 0;
  try {
    json j = json::parse(**turn);
    last = j.value("time", int64_t{0});
    fast = j.value("fast", int64_t{0});
  } catch (const std::exception&) {
  }
  if (last > 0 && limits.inbound_time - last < limits.loop_turn_seconds) {
    if (fast >= limits.loop_max_fast_turns) return std::string("loop");
    state->fast_turns = fast + 1;
  }
  return std::string();
}

// True when `entry` is another host's claim still in progress at `now` (ledger.h, SEVERAL
// HOSTS): pending or reinjecting, and claimed or reinjected less than the lease ago.
bool HeldByOtherHost(const LedgerEntry& entry, const ClaimOwner& self, int64_t now) {
  if (self.host_id.empty() || entry.owner.empty() || entry.owner == self.host_id) return false;
  if (entry.state != "pending" && entry.state != "reinjecting") return false;
  int64_t touched = std::max(entry.claimed, entry.reinject_time);
  return now < touched + self.lease_seconds;
}

// Decides a reply under `limits` at `now`: "" or the refusal keyword (ledger.h, Claim).
Result<std::string> Evaluate(const store::LedgerTxn& txn, const std::string& once_key,
                             const ClaimLimits& limits, std::string_view handler, int64_t now,
                             const ClaimOwner& self, RateState* state) {
  auto hit = txn.Get(kOnce, once_key);
  if (!hit.ok()) return hit.error();
  if (hit->has_value()) {
    auto entry = Decode(**hit);
    if (!entry.ok()) return entry.error();
    if (entry->state != "sent" && !entry->message.empty()) {
      if (HeldByOtherHost(*entry, self, now)) return std::string("other-host");
      state->resume = std::move(*entry);
      return std::string();
    }
    return std::string("already-replied");
  }
  state->rate_key = std::string(handler) + '\0' + RateKeyAddress(limits.sender);
  // Vacation: one reply per (sender, handler) per period.
  if (limits.sender_period_seconds > 0) {
    auto last = txn.Get(kRate, state->rate_key);
    if (!last.ok()) return last.error();
    if (last->has_value() && (*last)->size() == 8 &&
        store::DecodeTime(**last) + limits.sender_period_seconds > now) {
      return std::string("rate-sender");
    }
  }
  if (!limits.thread_id.empty()) {
    auto thread = EvaluateThread(txn, limits, now, state);
    if (!thread.ok() || !thread->empty()) return thread;
  }
  if (limits.loop_max_fast_turns > 0 && limits.inbound_time > 0) {
    return EvaluateLoop(txn, limits, state);
  }
  return std::string();
}

std::shared_ptr<store::LedgerBackend> BackendOf(std::shared_ptr<store::Environment> env) {
  if (auto shared = env->shared_backends().ledger) return shared;
  return std::make_shared<store::LmdbLedgerBackend>(std::move(env));
}
}  // namespace

ReplyLedger::ReplyLedger(std::shared_ptr<store::Environment> env, ClaimOwner owner)
    : backend_(BackendOf(std::move(env))), owner_(std::move(owner)) {}

ReplyLedger::ReplyLedger(std::shared_ptr<store::LedgerBackend> backend, ClaimOwner owner)
    : backend_(std::move(backend)), owner_(std::move(owner)) {}

Result<LedgerEntry> ReplyLedger::Claim(std::string_view message_id, std::string_view recipient,
                                       const ClaimLimits& limits, const LedgerEntry& proposed) {
  LedgerEntry out;
  std::string refusal;
  Status st = backend_->Write([&](store::LedgerTxn& txn) -> Status {
    refusal.clear();
    std::string once_key = OnceKey(message_id, recipient);
    RateState state;
    auto decided = Evaluate(txn, once_key, limits, proposed.handler, proposed.time, owner_, &state);
    if (!decided.ok()) return decided.error();
    if (state.resume) {  // an earlier claim, not sent yet: deal with that very message
      out = std::move(*state.resume);
      if (owner_.host_id.empty()) return {};
      if (!out.owner.empty() && out.owner != owner_.host_id) {
        // A stale claim of another host, taken over: its sendmail pid names a process there,
        // its gate marker a file there (this host can tell nothing from either).
        out.sendmail_pid = 0;
        out.sendmail_start = 0;
        out.gate_marker.clear();
      }
      out.owner = owner_.host_id;
      out.claimed = proposed.time;
      return txn.Put(kOnce, once_key, Encode(out));
    }
    if (!decided->empty()) {
      refusal = *decided;
      return {};
    }
    LedgerEntry mine = proposed;
    if (!owner_.host_id.empty()) {
      mine.owner = owner_.host_id;
      mine.claimed = proposed.time;
    }
    if (Status put = txn.Put(kOnce, once_key, Encode(mine)); !put.ok()) return put;
    if (Status put = txn.Put(kRate, state.rate_key, store::EncodeTime(proposed.time));
        !put.ok()) {
      return put;
    }
    if (!limits.thread_id.empty()) {
      json j = {{"count", state.thread_count + 1}, {"time", proposed.time}};
      if (limits.thread_replies_per_hour > 0) j["tokens"] = state.thread_tokens - 1.0;
      if (Status put = txn.Put(kThread, limits.thread_id, j.dump()); !put.ok()) return put;
    }
    if (limits.loop_max_fast_turns > 0) {
      json j = {{"time", proposed.time}, {"fast", state.fast_turns}};
      if (Status put = txn.Put(kTurn, state.rate_key, j.dump()); !put.ok()) return put;
    }
    out = std::move(mine);
    return {};
  });
  if (!st.ok()) return st.error();
  if (!refusal.empty()) return MakeError(ErrorCode::kRefused, refusal);
  return out;
}

Result<std::string> ReplyLedger::Check(std::string_view message_id, std::string_view recipient,
                                       const ClaimLimits& limits, std::string_view handler,
                                       int64_t now) const {
  std::string out;
  Status st = backend_->Read([&](store::LedgerTxn& txn) -> Status {
    RateState state;
    auto decided =
        Evaluate(txn, OnceKey(message_id, recipient), limits, handler, now, owner_, &state);
    if (!decided.ok()) return decided.error();
    out = state.resume ? "" : *decided;
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Status ReplyLedger::MarkSent(std::string_view message_id, std::string_view recipient) {
  return MarkIn(*backend_, kOnce, OnceKey(message_id, recipient));
}

Result<std::optional<LedgerEntry>> ReplyLedger::Find(std::string_view message_id,
                                                     std::string_view recipient) const {
  std::optional<LedgerEntry> out;
  Status st = backend_->Read([&](store::LedgerTxn& txn) -> Status {
    out.reset();
    auto hit = txn.Get(kOnce, OnceKey(message_id, recipient));
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return {};
    auto entry = Decode(**hit);
    if (!entry.ok()) return entry.error();
    out = std::move(*entry);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<LedgerEntry> ReplyLedger::ClaimSend(std::string_view job_id, uint32_t index,
                                           const LedgerEntry& proposed, int64_t per_hour) {
  LedgerEntry out;
  bool refused = false;
  Status st = backend_->Write([&](store::LedgerTxn& txn) -> Status {
    refused = false;
    if (!job_id.empty()) {
      auto hit = txn.Get(kSend, SendKey(job_id, index));
      if (!hit.ok()) return hit.error();
      if (hit->has_value()) {  // an earlier attempt of this job claimed it: no new token
        auto entry = Decode(**hit);
        if (!entry.ok()) return entry.error();
        out = std::move(*entry);
        return {};
      }
    }
    auto token = TakeSendToken(txn, proposed.handler, proposed.time, per_hour);
    if (!token.ok()) return token.error();
    if (!*token) {
      refused = true;
      return {};
    }
    if (!job_id.empty()) {
      bool existed = false;
      auto got = ClaimIn(txn, kSend, SendKey(job_id, index), proposed, &existed);
      if (!got.ok()) return got.error();
    }
    out = proposed;
    return {};
  });
  if (!st.ok()) return st.error();
  if (refused) return MakeError(ErrorCode::kRefused, "send-rate");
  return out;
}

EntryRef ReplyLedger::ReplyRef(std::string_view message_id, std::string_view recipient) {
  return {kOnce, OnceKey(message_id, recipient)};
}

EntryRef ReplyLedger::SendRef(std::string_view job_id, uint32_t index) {
  return {kSend, SendKey(job_id, index)};
}

Status ReplyLedger::Update(const EntryRef& ref, const LedgerEntry& entry) {
  return Rewrite(
      *backend_, ref.ns, ref.key, [&](LedgerEntry& e) { e = entry; }, entry.owner);
}

Status ReplyLedger::MarkDone(const EntryRef& ref) { return MarkIn(*backend_, ref.ns, ref.key); }

Status ReplyLedger::MarkSendDone(std::string_view job_id, uint32_t index) {
  return MarkIn(*backend_, kSend, SendKey(job_id, index));
}

Result<std::vector<ReplyLedger::Owed>> ReplyLedger::ListOwed(size_t limit) const {
  std::vector<Owed> out;
  Status st = backend_->Read([&](store::LedgerTxn& txn) -> Status {
    out.clear();
    for (const std::string* ns : {&kOnce, &kSend}) {  // key order: "once\0" < "send\0"
      Status scanned =
          txn.Scan(*ns, [&](std::string_view key, std::string_view value) -> bool {
            if (out.size() >= limit) return false;
            auto entry = Decode(value);
            if (entry.ok() && entry->state != "sent") {
              out.push_back({EntryRef{*ns, std::string(key)}, std::move(*entry)});
            }
            return true;
          });
      if (!scanned.ok()) return scanned;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

namespace {

// When the entry `value` of namespace `ns` was last touched, or nullopt when it is kept
// whatever its age (send buckets; replies and sends still owed). Corrupt entries read as 0.
std::optional<int64_t> LastTouched(const std::string& ns, std::string_view value) {
  if (ns == kRate) return value.size() == 8 ? store::DecodeTime(value) : 0;
  if (ns == kThread || ns == kTurn) {
    try {
      return json::parse(value).value("time", int64_t{0});
    } catch (const std::exception&) {
      return 0;
    }
  }
  auto entry = Decode(value);
  if (entry.ok() && entry->state != "sent") return std::nullopt;  // still owed to someone
  return entry.ok() ? entry->time : 0;
}

}  // namespace

Result<uint64_t> ReplyLedger::Sweep(int64_t older_than) {
  uint64_t removed = 0;
  Status st = backend_->Write([&](store::LedgerTxn& txn) -> Status {
    removed = 0;
    std::vector<std::pair<const std::string*, std::string>> doomed;
    // Key order of the namespaces, as one LMDB cursor pass sees them ("sendrate" kept).
    for (const std::string* ns : {&kOnce, &kRate, &kSend, &kThread, &kTurn}) {
      Status scanned =
          txn.Scan(*ns, [&](std::string_view key, std::string_view value) -> bool {
            std::optional<int64_t> time = LastTouched(*ns, value);
            if (time && *time < older_than) doomed.emplace_back(ns, std::string(key));
            return doomed.size() < 1000;
          });
      if (!scanned.ok()) return scanned;
      if (doomed.size() >= 1000) break;
    }
    for (const auto& [ns, key] : doomed) {
      auto del = txn.Del(*ns, key);
      if (!del.ok()) return del.error();
      removed += *del ? 1 : 0;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return removed;
}

}  // namespace threadmill::reply
