// txn.h - RAII LMDB transactions and cursors.
//
// DESCRIPTION
//   ReadTxn and WriteTxn wrap one MDB_txn each. They are created by Environment (Read,
//   Write, BeginRead), hold the environment's TxnGate shared for their whole life, and
//   abort in their destructor unless committed. Cursor wraps an MDB_cursor inside one of
//   them. Byte strings in and out are std::string_view; views returned by Get and Cursor
//   point into the memory map and stay valid until the transaction ends or, in a write
//   transaction, until the next write.
//
// THREADING
//   A transaction and its cursors belong to the thread using them (the environment is
//   opened with MDB_NOTLS, so any thread may create one, but never share one). Do not
//   begin a second transaction on a thread that holds one (see txn_gate.h).
//
// LIMITS
//   Keys must be 1..511 bytes (LMDB's compile-time maximum); dupsort values too. Use
//   keys.h for longer keys. A failed write leaves the transaction unusable: abort it
//   (Environment::Write does so and retries after growing the map on MDB_MAP_FULL).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace threadmill::store {

class TxnGate;

// MDB_dbi of a database missing from a read-only environment: reads as empty.
inline constexpr MDB_dbi kMissingDbi = ~static_cast<MDB_dbi>(0);

inline MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view FromVal(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class Txn {
 public:
  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&&) = delete;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  // Aborts the transaction if it is still open and releases the gate.
  ~Txn();

  // The underlying handle, owned by this object; null once ended.
  MDB_txn* raw() const noexcept { return txn_; }
  bool active() const noexcept { return txn_ != nullptr; }

  // Looks up `key`. The returned view is owned by LMDB (see file comment).
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key) const;

  // True once any operation in this transaction reported MDB_MAP_FULL.
  bool map_full() const noexcept { return map_full_; }
  // Records an LMDB return code (for map-full detection) and returns it as an Error.
  Error Fail(int rc, std::string_view what) const;

 protected:
  Txn(MDB_txn* txn, TxnGate* gate) : txn_(txn), gate_(gate) {}
  void End(bool commit, int* rc);

  MDB_txn* txn_ = nullptr;
  TxnGate* gate_ = nullptr;
  mutable bool map_full_ = false;
};

// A read-only snapshot. Created by Environment::Read / BeginRead.
class ReadTxn : public Txn {
 public:
  ReadTxn(ReadTxn&&) noexcept = default;

 private:
  friend class Environment;
  ReadTxn(MDB_txn* txn, TxnGate* gate) : Txn(txn, gate) {}
};

// The single write transaction (LMDB serializes writers across processes). Created by
// Environment::Write, which commits it when the callback succeeds.
class WriteTxn : public Txn {
 public:
  WriteTxn(WriteTxn&&) noexcept = default;

  // Stores key -> value, replacing (or, in a dupsort db, adding) it.
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Stores only if absent (dupsort: only if this key/value pair is absent). Returns
  // false, leaving the database alone, when it was present.
  Result<bool> PutIfAbsent(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Deletes `key` (every duplicate in a dupsort db). Returns false when absent.
  Result<bool> Del(MDB_dbi dbi, std::string_view key);
  // Deletes one key/value pair of a dupsort db. Returns false when absent.
  Result<bool> DelDup(MDB_dbi dbi, std::string_view key, std::string_view value);

  // Commits; the transaction is ended either way. On MDB_MAP_FULL map_full() is set.
  Status Commit();
  // Discards the transaction. Idempotent.
  void Abort();

 private:
  friend class Environment;
  WriteTxn(MDB_txn* txn, TxnGate* gate) : Txn(txn, gate) {}
};

// A cursor inside one transaction; must not outlive it. Positioning calls return true
// when they landed on an entry, false at the end / when nothing matched.
class Cursor {
 public:
  // Opens a cursor on `dbi` in `txn`. A kMissingDbi cursor is empty.
  static Result<Cursor> Open(const Txn& txn, MDB_dbi dbi);
  Cursor(Cursor&& other) noexcept;
  Cursor& operator=(Cursor&&) = delete;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  Result<bool> First();
  Result<bool> Next();
  // First entry with key >= `key`.
  Result<bool> SeekRange(std::string_view key);
  // Exactly `key` (first duplicate in a dupsort db).
  Result<bool> SeekKey(std::string_view key);
  // Next duplicate of the current key (dupsort).
  Result<bool> NextDup();
  // Number of duplicates of the current key (dupsort; 1 otherwise).
  Result<size_t> CountDups();

  // The current entry; views owned by LMDB, valid as for Txn::Get.
  std::string_view key() const { return FromVal(key_); }
  std::string_view value() const { return FromVal(value_); }

 private:
  Cursor(MDB_cursor* cursor, const Txn* txn) : cursor_(cursor), txn_(txn) {}
  Result<bool> Move(MDB_cursor_op op, const char* what);

  MDB_cursor* cursor_ = nullptr;
  const Txn* txn_ = nullptr;
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
};

}  // namespace threadmill::store
