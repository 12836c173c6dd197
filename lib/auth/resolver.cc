// resolver.cc - see resolver.h.
#include "auth/resolver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/unique_fd.h"

namespace threadmill::auth {
namespace {

constexpr int kRcodeServFail = 2;

// One outstanding query. Shared by the waiting caller and the unbound callback; the
// callback's reference lives in a heap-allocated shared_ptr passed as ub's mydata.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  DnsResult result;
};

// Reads an uncompressed domain name (as libunbound hands out rdata) at data[*pos].
bool ReadName(const unsigned char* data, size_t len, size_t* pos, std::string* out) {
  out->clear();
  for (int guard = 0; guard < 128; ++guard) {
    if (*pos >= len) return false;
    unsigned label = data[(*pos)++];
    if (label == 0) return true;
    if (label > 63 || *pos + label > len) return false;  // compression pointers not expected
    if (!out->empty()) out->push_back('.');
    out->append(reinterpret_cast<const char*>(data + *pos), label);
    *pos += label;
  }
  return false;
}

// Decodes one RR's rdata into DnsResult::records form. Returns false when malformed.
bool DecodeRdata(uint16_t type, const unsigned char* d, size_t len, DnsResult* out) {
  switch (type) {
    case kTypeTxt: {
      std::string joined;
      size_t pos = 0;
      while (pos < len) {
        size_t n = d[pos++];
        if (pos + n > len) return false;
        joined.append(reinterpret_cast<const char*>(d + pos), n);
        pos += n;
      }
      out->records.push_back(std::move(joined));
      return true;
    }
    case kTypeA:
    case kTypeAaaa:
      if (len != (type == kTypeA ? 4u : 16u)) return false;
      out->records.emplace_back(reinterpret_cast<const char*>(d), len);
      return true;
    case kTypeMx: {
      if (len < 3) return false;
      size_t pos = 2;
      std::string name;
      if (!ReadName(d, len, &pos, &name)) return false;
      out->mx_preference.push_back(static_cast<uint16_t>(d[0] << 8 | d[1]));
      out->records.push_back(std::move(name));
      return true;
    }
    default: {  // PTR, CNAME, NS: one name
      size_t pos = 0;
      std::string name;
      if (!ReadName(d, len, &pos, &name)) return false;
      out->records.push_back(std::move(name));
      return true;
    }
  }
}

DnsResult Convert(int err, ub_result* r) {
  DnsResult out;
  if (err != 0 || r == nullptr) {
    out.error = err != 0 ? ub_strerror(err) : "no result";
    return out;
  }
  out.rcode = r->rcode;
  out.ttl = r->ttl;
  out.secure = r->secure != 0;
  if (r->answer_packet != nullptr && r->answer_len > 0)
    out.packet.assign(static_cast<const char*>(r->answer_packet), r->answer_len);
  if (r->bogus) {
    out.error = std::string("DNSSEC bogus: ") + (r->why_bogus ? r->why_bogus : "?");
    return out;
  }
  if (r->nxdomain) {
    out.status = DnsStatus::kNxDomain;
    return out;
  }
  if (r->rcode == kRcodeServFail || r->rcode != 0) {
    out.error = "rcode " + std::to_string(r->rcode);
    return out;
  }
  if (!r->havedata) {
    out.status = DnsStatus::kNoData;
    return out;
  }
  for (int i = 0; r->data[i] != nullptr; ++i) {
    if (!DecodeRdata(static_cast<uint16_t>(r->qtype),
                     reinterpret_cast<const unsigned char*>(r->data[i]),
                     static_cast<size_t>(r->len[i]), &out)) {
      out.records.clear();
      out.error = "malformed rdata";
      return out;
    }
  }
  out.status = DnsStatus::kAnswer;
  return out;
}

void OnResult(void* mydata, int err, ub_result* r) {
  auto* holder = static_cast<std::shared_ptr<Pending>*>(mydata);
  DnsResult converted = Convert(err, r);
  if (r != nullptr) ub_resolve_free(r);
  {
    std::lock_guard<std::mutex> lock((*holder)->mu);
    (*holder)->result = std::move(converted);
    (*holder)->done = true;
  }
  (*holder)->cv.notify_all();
  delete holder;
}

bool IsLoopback(const std::string& addr) {
  return addr.rfind("127.", 0) == 0 || addr.rfind("::1", 0) == 0;
}

}  // namespace

const char* ToString(DnsStatus status) {
  switch (status) {
    case DnsStatus::kAnswer:
      return "answer";
    case DnsStatus::kNxDomain:
      return "nxdomain";
    case DnsStatus::kNoData:
      return "nodata";
    case DnsStatus::kTempFail:
      return "tempfail";
  }
  return "?";
}

struct Resolver::Impl {
  ub_ctx* ctx = nullptr;
  std::chrono::milliseconds timeout{5000};
  UniqueFd wake_fd;  // eventfd: wakes the dispatcher (stop, new queries)
  std::atomic<bool> stop{false};
  std::thread dispatcher;

  // Our answer cache (see resolver.h LIMITS): key is the type, a space, the lower-cased name.
  struct Cached {
    DnsResult result;
    std::chrono::steady_clock::time_point expires;
  };
  size_t cache_entries = 0;
  std::mutex cache_mu;

  // Upstream health (resolver.h DIAGNOSTICS).
  std::function<void(bool, const std::string&)> on_upstream_change;
  uint32_t down_after = 3;
  std::string upstream_name;  // the forwarders, for the log line
  std::mutex health_mu;
  uint32_t failed_in_row = 0;
  bool down = false;
  std::chrono::steady_clock::time_point down_since;
  void NoteUpstream(bool answered, const std::string& error);
  std::unordered_map<std::string, Cached> cache;

  static std::string Key(std::string_view name, uint16_t rrtype) {
    std::string k = std::to_string(rrtype) + ' ';
    for (char c : name) k += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!k.empty() && k.back() == '.') k.pop_back();
    return k;
  }
  bool Lookup(const std::string& key, DnsResult* out) {
    if (cache_entries == 0) return false;
    std::lock_guard<std::mutex> lock(cache_mu);
    auto it = cache.find(key);
    if (it == cache.end()) return false;
    if (it->second.expires <= std::chrono::steady_clock::now()) {
      cache.erase(it);
      return false;
    }
    *out = it->second.result;
    return true;
  }
  void Store(const std::string& key, const DnsResult& r) {
    if (cache_entries == 0 || r.status == DnsStatus::kTempFail || r.ttl <= 0) return;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(cache_mu);
    if (cache.size() >= cache_entries) {
      std::erase_if(cache, [&](const auto& kv) { return kv.second.expires <= now; });
      if (cache.size() >= cache_entries) cache.clear();
    }
    cache[key] = Cached{r, now + std::chrono::seconds(std::min(r.ttl, 3600))};
  }

  // One query sent to unbound; Wait() collects it.
  struct Sent {
    std::string key;
    std::shared_ptr<Pending> pending;
    std::shared_ptr<Pending>* holder = nullptr;
    int id = 0;
    bool done = false;  // `result` is final (cached, invalid, or not sent)
    DnsResult result;
  };
  Sent Send(std::string_view name, uint16_t rrtype, std::chrono::steady_clock::time_point start,
            DnsDeadline deadline);
  DnsResult Wait(Sent& sent, std::chrono::steady_clock::time_point start, DnsDeadline deadline);

  ~Impl() {
    if (dispatcher.joinable()) {
      stop = true;
      uint64_t one = 1;
      (void)!write(wake_fd.get(), &one, sizeof one);
      dispatcher.join();
    }
    if (ctx != nullptr) ub_ctx_delete(ctx);  // cancels what is left; no callbacks after this
  }

  // The only thread that calls ub_process(): callbacks run here and wake the callers.
  void Dispatch() {
    pollfd fds[2] = {{ub_fd(ctx), POLLIN, 0}, {wake_fd.get(), POLLIN, 0}};
    while (!stop) {
      int n = poll(fds, 2, 1000);
      if (n <= 0) continue;
      if (fds[0].revents & POLLIN) ub_process(ctx);
    }
  }
};

void Resolver::Impl::NoteUpstream(bool answered, const std::string& error) {
  std::string text;
  bool now_down = false;
  {
    std::lock_guard<std::mutex> lock(health_mu);
    if (answered) {
      if (down) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - down_since)
                      .count();
        text = "upstream=up server=" + upstream_name + " down_ms=" + std::to_string(ms) +
               " failed=" + std::to_string(failed_in_row);
      }
      down = false;
      failed_in_row = 0;
    } else {
      ++failed_in_row;
      if (!down && failed_in_row >= down_after) {
        down = true;
        now_down = true;
        down_since = std::chrono::steady_clock::now();
        text = "upstream=down server=" + upstream_name +
               " failed=" + std::to_string(failed_in_row) + " error=\"" + error + "\"";
      }
    }
  }
  if (!text.empty() && on_upstream_change) on_upstream_change(!now_down, text);
}

Result<std::unique_ptr<Resolver>> Resolver::Create(const ResolverOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = options.timeout;
  impl->cache_entries = options.cache_entries;
  impl->on_upstream_change = options.on_upstream_change;
  impl->down_after = std::max<uint32_t>(options.upstream_down_after, 1);
  for (const auto& fwd : options.forwarders) {
    impl->upstream_name += (impl->upstream_name.empty() ? "" : ",") + fwd;
  }
  if (impl->upstream_name.empty()) {
    impl->upstream_name = options.use_resolv_conf ? "resolv.conf" : "recursion";
  }
  impl->ctx = ub_ctx_create();
  if (impl->ctx == nullptr) return MakeError(ErrorCode::kInternal, "ub_ctx_create failed");
  auto fail = [](const std::string& what, int err) {
    return MakeError(ErrorCode::kInvalidInput, what + ": " + ub_strerror(err));
  };
  int err = ub_ctx_async(impl->ctx, 1);  // threads, not a forked process
  if (err != 0) return fail("ub_ctx_async", err);
  for (const auto& [name, value] : options.unbound_options) {
    if ((err = ub_ctx_set_option(impl->ctx, name.c_str(), value.c_str())) != 0)
      return fail("unbound option " + name + " " + value, err);
  }
  bool loopback = false;
  for (const auto& fwd : options.forwarders) {
    if ((err = ub_ctx_set_fwd(impl->ctx, fwd.c_str())) != 0) return fail("forwarder " + fwd, err);
    loopback = loopback || IsLoopback(fwd);
  }
  if (loopback && (err = ub_ctx_set_option(impl->ctx, "do-not-query-localhost:", "no")) != 0)
    return fail("do-not-query-localhost", err);
  // A forwarder that timed out is probed again at once when it is back (DIAGNOSTICS); an
  // unbound without the option simply keeps its default.
  (void)ub_ctx_set_option(impl->ctx, "infra-keep-probing:", "yes");
  if (options.forwarders.empty() && options.use_resolv_conf &&
      (err = ub_ctx_resolvconf(impl->ctx, nullptr)) != 0)
    return fail("resolv.conf", err);
  if (!options.trust_anchor_file.empty() &&
      (err = ub_ctx_add_ta_file(impl->ctx, options.trust_anchor_file.c_str())) != 0)
    return fail("trust anchor " + options.trust_anchor_file, err);
  impl->wake_fd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->wake_fd) return MakeError(ErrorCode::kInternal, "eventfd failed");
  if (ub_fd(impl->ctx) < 0) return MakeError(ErrorCode::kInternal, "ub_fd failed");
  Impl* raw = impl.get();
  impl->dispatcher = std::thread([raw] { raw->Dispatch(); });
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

std::chrono::milliseconds Resolver::timeout() const { return impl_->timeout; }

DnsResult Resolver::Query(std::string_view name, uint16_t rrtype) {
  return Query(name, rrtype, std::chrono::steady_clock::now() + impl_->timeout);
}

Resolver::Impl::Sent Resolver::Impl::Send(std::string_view name, uint16_t rrtype,
                                          std::chrono::steady_clock::time_point start,
                                          DnsDeadline deadline) {
  Sent sent;
  if (name.empty() || name.size() > 253 || name.find('\0') != std::string_view::npos) {
    sent.done = true;
    sent.result.status = DnsStatus::kNxDomain;  // cannot exist; asking would be an error
    sent.result.error = "invalid name";
    return sent;
  }
  sent.key = Key(name, rrtype);
  if (Lookup(sent.key, &sent.result)) {  // even past the deadline: it costs no wait
    sent.done = true;
    return sent;
  }
  if (start >= deadline) {
    sent.done = true;
    sent.result.error = "DNS deadline passed, not queried";
    return sent;
  }
  sent.pending = std::make_shared<Pending>();
  sent.holder = new std::shared_ptr<Pending>(sent.pending);
  std::string qname(name);
  int err =
      ub_resolve_async(ctx, qname.c_str(), rrtype, 1 /* IN */, sent.holder, OnResult, &sent.id);
  if (err != 0) {
    delete sent.holder;
    sent.holder = nullptr;
    sent.done = true;
    sent.result.error = ub_strerror(err);
  }
  return sent;
}

DnsResult Resolver::Impl::Wait(Sent& sent, std::chrono::steady_clock::time_point start,
                               DnsDeadline deadline) {
  if (sent.done) return std::move(sent.result);
  std::unique_lock<std::mutex> lock(sent.pending->mu);
  if (sent.pending->cv.wait_until(lock, deadline, [&] { return sent.pending->done; })) {
    DnsResult r = std::move(sent.pending->result);
    lock.unlock();
    Store(sent.key, r);
    // An answer, or a DNSSEC-bogus one (the upstream answered); else SERVFAIL & co.
    NoteUpstream(r.status != DnsStatus::kTempFail || r.error.rfind("DNSSEC bogus", 0) == 0,
                 r.error);
    return r;
  }
  lock.unlock();
  // Timed out. If the cancel succeeds unbound will never call back: free its reference.
  // Otherwise the callback is running or about to run and frees it itself.
  if (ub_cancel(ctx, sent.id) == 0) delete sent.holder;
  DnsResult out;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  out.error = "timed out after " + std::to_string(waited.count()) + " ms";
  NoteUpstream(false, out.error);
  return out;
}

DnsResult Resolver::Query(std::string_view name, uint16_t rrtype, DnsDeadline deadline) {
  auto start = std::chrono::steady_clock::now();
  deadline = std::min(deadline, start + impl_->timeout);
  Impl::Sent sent = impl_->Send(name, rrtype, start, deadline);
  return impl_->Wait(sent, start, deadline);
}

std::vector<DnsResult> Resolver::QueryAll(
    const std::vector<std::pair<std::string, uint16_t>>& queries, DnsDeadline deadline) {
  auto start = std::chrono::steady_clock::now();
  deadline = std::min(deadline, start + impl_->timeout);
  std::vector<Impl::Sent> sent;
  sent.reserve(queries.size());
  for (const auto& [name, type] : queries) sent.push_back(impl_->Send(name, type, start, deadline));
  std::vector<DnsResult> out;
  out.reserve(sent.size());
  for (auto& s : sent) out.push_back(impl_->Wait(s, start, deadline));
  return out;
}

}  // namespace threadmill::auth
