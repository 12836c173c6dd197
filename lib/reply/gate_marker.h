// gate_marker.h - per-attempt files that prove a gated sendmail child never exec'd.
//
// DESCRIPTION
//   A reinjection (sendmail.h) forks its child first; the child waits on a gate (a pipe)
//   while the replier commits the reply as "reinjecting" with the child's pid, then the gate
//   opens and the child execs sendmail. A worker killed between that commit and the opening
//   of the gate leaves a child that sees EOF and exits WITHOUT exec: sendmail never ran. Seen
//   from the retry, that child looks like one whose sendmail ran, queued the reply and ended
//   while the milter was down. The gate marker tells the two apart (replier.h):
//     Create  before the ledger commit: an empty file DIR/gate-<32 hex digits> (O_EXCL);
//             its name is recorded in the ledger entry (LedgerEntry::gate_marker);
//     the gated child unlinks it and fsyncs DIR immediately BEFORE exec (sendmail.h), and
//             leaves it in place when it exits on the gate's EOF;
//     Check   on retry, once the recorded child is gone: the marker still there = sendmail
//             never ran and no process can run it any more: the reply is sent again;
//             the marker gone = sendmail may have run: the outbound echo decides as before.
//   Remove drops the marker of a settled attempt (after the ledger says so). Sweep removes
//   leftovers (a ledger write that failed after Create, a claim another host took over) that
//   no owed ledger entry names, once they are older than an hour.
//
// DURABILITY
//   The marker's creation is not synced: losing it in a power cut only makes the retry fall
//   back to the echo (the safe side: never twice, maybe parked). Its removal is synced by the
//   child before exec, so a marker can never reappear for a sendmail that ran.
//
// LIMITS
//   Local to the host that forked the child (DIR is under the local spool); a claim taken
//   over by another host drops the marker's name (ledger.h SEVERAL HOSTS). Names are checked
//   (ValidName) before any path is built from a ledger entry. dir "" turns markers off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"

namespace threadmill::reply {

class ReplyLedger;

class GateMarkers {
 public:
  explicit GateMarkers(std::string dir = {}) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // "gate-" followed by 32 lower-case hex digits.
  static bool ValidName(std::string_view name);
  // DIR/name (name must be valid).
  std::string PathOf(std::string_view name) const { return dir_ + "/" + std::string(name); }

  // A fresh empty marker; returns its name. Creates DIR (0750) when missing.
  Result<std::string> Create() const;

  enum class State { kPresent, kAbsent, kUnknown };
  // kUnknown: markers off, an invalid name or an error other than ENOENT.
  State Check(std::string_view name) const;
  // Unlinks the marker; "" and absent markers are fine.
  void Remove(std::string_view name) const;

  // Removes markers not in `keep` whose modification time is `min_age_seconds` or more before
  // `now` (unix seconds). Returns how many.
  Result<size_t> Sweep(const std::set<std::string>& keep, int64_t now,
                       int64_t min_age_seconds) const;

 private:
  std::string dir_;
};

// The housekeeping sweep: markers that no owed entry of `ledger` names, older than an hour.
// Skipped (0) when markers are off or the directory does not exist yet.
Result<size_t> SweepGateMarkers(const GateMarkers& markers, const ReplyLedger& ledger,
                                int64_t now);

}  // namespace threadmill::reply
