// resolver.h - threadmill's one DNS resolver (libunbound), shared by SPF, DKIM and DMARC.
//
// DESCRIPTION
//   Resolver wraps one ub_ctx: caching, asynchronous inside (ub_resolve_async, results
//   delivered by a private dispatcher thread that polls ub_fd), and a hard per-query
//   deadline: Query() never blocks past its timeout; a late query is cancelled with
//   ub_cancel and reported as kTempFail. It is safe to call from any number of threads.
//   Forwarders ("127.0.0.1@5353") replace the system resolver; without them and with
//   use_resolv_conf the system's /etc/resolv.conf is used; with neither, unbound recurses
//   from the root itself. An optional trust anchor file turns on DNSSEC validation
//   (DnsResult::secure / bogus; a bogus answer is a kTempFail, as unbound would SERVFAIL).
//
// STANDARDS
//   RFC 1035 (wire format), RFC 7208 section 3.3 and RFC 6376 section 3.6.2.2 (the
//   character-strings of one TXT RR are concatenated without separator).
//
// LIMITS
//   unbound treats some special-use names (test., invalid., onion., ...) as local zones
//   answered with NXDOMAIN without asking anybody; pass
//   unbound_options {"local-zone:", "test. transparent"} to resolve them through forwarders.
//   Only the RR types SPF/DKIM/DMARC need are decoded into records; every type still gets
//   the raw answer packet.
//   Answers (also NXDOMAIN/NODATA) are kept in a small cache of our own in front of
//   unbound's, for their TTL (at most an hour, at most cache_entries names; when full, the
//   expired entries go, then all): a cached answer is returned even when the caller's
//   deadline has passed, so a message whose DNS budget is spent still gets what is known.
//
// DIAGNOSTICS
//   Upstream health: once upstream_down_after queries in a row that were really sent time out
//   or fail (SERVFAIL, REFUSED, an unbound error), on_upstream_change(false, text) is called
//   once; the first answer after that (any answer, also NXDOMAIN) calls it once with true.
//   Cached answers and queries not sent (deadline already passed) count for neither. A time-out
//   caused by a caller's short deadline counts as a failure too: hence the run of several.
//   unbound is told to keep probing a forwarder it marked down (infra-keep-probing), so an
//   upstream that comes back is used again at once instead of after infra-host-ttl.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace threadmill::auth {

struct ResolverOptions {
  std::vector<std::string> forwarders;  // "127.0.0.1@5353", "192.0.2.53"
  std::chrono::milliseconds timeout{5000};
  std::string trust_anchor_file;  // empty: no DNSSEC validation
  bool use_resolv_conf = true;    // only when forwarders is empty
  // Raw unbound.conf settings, e.g. {"local-zone:", "test. transparent"}.
  std::vector<std::pair<std::string, std::string>> unbound_options;
  size_t cache_entries = 4096;  // answers kept in front of unbound's cache (0: none)
  // See DIAGNOSTICS. Called from the querying thread, never with a lock held; may be empty.
  // `text` is key=value: "upstream=down failed=N error=..." / "upstream=up down_ms=N failed=N".
  std::function<void(bool answering, const std::string& text)> on_upstream_change;
  uint32_t upstream_down_after = 3;  // consecutive failed queries before "down" (min 1)
};

// The point in time after which a caller stops waiting for DNS (see Query).
using DnsDeadline = std::chrono::steady_clock::time_point;
inline constexpr DnsDeadline kNoDnsDeadline = DnsDeadline::max();  // the per-query timeout only

// RR types used by threadmill (RFC 1035, RFC 3596).
inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeMx = 15;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;

enum class DnsStatus { kAnswer, kNxDomain, kNoData, kTempFail };
const char* ToString(DnsStatus status);

struct DnsResult {
  DnsStatus status = DnsStatus::kTempFail;
  // kAnswer only. TXT: the RR's strings joined; A: 4 bytes, AAAA: 16 bytes (network order);
  // MX: the exchange name; PTR/CNAME/NS: the target name (names without the final dot).
  std::vector<std::string> records;
  std::vector<uint16_t> mx_preference;  // parallel to records for MX
  std::string packet;                   // the raw DNS answer (may be empty on kTempFail)
  int rcode = 0;
  int ttl = 0;
  bool secure = false;  // DNSSEC validated (only with a trust anchor)
  std::string error;    // why, for kTempFail
};

class Resolver {
 public:
  // Creates the context and starts the dispatcher thread. Errors are configuration errors
  // (bad forwarder address, unreadable trust anchor, unknown unbound option).
  static Result<std::unique_ptr<Resolver>> Create(const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Thread-safe. Blocks at most options.timeout.
  DnsResult Query(std::string_view name, uint16_t rrtype);
  // Thread-safe. Blocks until `deadline` at most (and never past options.timeout); a
  // deadline already past gives kTempFail at once, without sending a query.
  DnsResult Query(std::string_view name, uint16_t rrtype, DnsDeadline deadline);
  // Thread-safe. Sends every query at once and waits for all of them until `deadline` at
  // most: each gets the whole window (none waits behind another). Results in input order.
  std::vector<DnsResult> QueryAll(const std::vector<std::pair<std::string, uint16_t>>& queries,
                                  DnsDeadline deadline);

  std::chrono::milliseconds timeout() const;

  struct Impl;

 private:
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace threadmill::auth
