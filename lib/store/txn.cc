// txn.cc - see txn.h.
#include "store/txn.h"

#include "store/lmdb_error.h"
#include "store/txn_gate.h"

namespace threadmill::store {

Txn::Txn(Txn&& other) noexcept : txn_(other.txn_), gate_(other.gate_), map_full_(other.map_full_) {
  other.txn_ = nullptr;
  other.gate_ = nullptr;
}

Txn::~Txn() { End(false, nullptr); }

void Txn::End(bool commit, int* rc) {
  if (txn_ != nullptr) {
    if (commit) {
      int r = mdb_txn_commit(txn_);
      if (rc != nullptr) *rc = r;
    } else {
      mdb_txn_abort(txn_);
    }
    txn_ = nullptr;
  }
  if (gate_ != nullptr) {
    gate_->LeaveShared();
    gate_ = nullptr;
  }
}

Error Txn::Fail(int rc, std::string_view what) const {
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return LmdbError(rc, what);
}

Result<std::optional<std::string_view>> Txn::Get(MDB_dbi dbi, std::string_view key) const {
  if (dbi == kMissingDbi) return std::optional<std::string_view>();
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: get on ended txn");
  MDB_val k = ToVal(key);
  MDB_val v{0, nullptr};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != MDB_SUCCESS) return Fail(rc, "get");
  return std::optional<std::string_view>(FromVal(v));
}

Status WriteTxn::Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: put on ended txn");
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != MDB_SUCCESS) return Fail(rc, "put");
  return {};
}

Result<bool> WriteTxn::PutIfAbsent(MDB_dbi dbi, std::string_view key, std::string_view value) {
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: put on ended txn");
  unsigned dbflags = 0;
  int rc = mdb_dbi_flags(txn_, dbi, &dbflags);
  if (rc != MDB_SUCCESS) return Fail(rc, "dbi_flags");
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  rc = mdb_put(txn_, dbi, &k, &v, (dbflags & MDB_DUPSORT) ? MDB_NODUPDATA : MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != MDB_SUCCESS) return Fail(rc, "put");
  return true;
}

Result<bool> WriteTxn::Del(MDB_dbi dbi, std::string_view key) {
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: del on ended txn");
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return Fail(rc, "del");
  return true;
}

Result<bool> WriteTxn::DelDup(MDB_dbi dbi, std::string_view key, std::string_view value) {
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: del on ended txn");
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  int rc = mdb_del(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return Fail(rc, "del");
  return true;
}

Status WriteTxn::Commit() {
  if (txn_ == nullptr) return MakeError(ErrorCode::kInternal, "lmdb: commit on ended txn");
  int rc = MDB_SUCCESS;
  End(true, &rc);
  if (rc != MDB_SUCCESS) return Fail(rc, "commit");
  return {};
}

void WriteTxn::Abort() { End(false, nullptr); }

Result<Cursor> Cursor::Open(const Txn& txn, MDB_dbi dbi) {
  if (dbi == kMissingDbi) return Cursor(nullptr, &txn);
  if (!txn.active()) return MakeError(ErrorCode::kInternal, "lmdb: cursor on ended txn");
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.raw(), dbi, &cursor);
  if (rc != MDB_SUCCESS) return txn.Fail(rc, "cursor_open");
  return Cursor(cursor, &txn);
}

Cursor::Cursor(Cursor&& other) noexcept
    : cursor_(other.cursor_), txn_(other.txn_), key_(other.key_), value_(other.value_) {
  other.cursor_ = nullptr;
}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<bool> Cursor::Move(MDB_cursor_op op, const char* what) {
  if (cursor_ == nullptr) return false;
  int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return txn_->Fail(rc, what);
  return true;
}

Result<bool> Cursor::First() { return Move(MDB_FIRST, "cursor first"); }
Result<bool> Cursor::Next() { return Move(MDB_NEXT, "cursor next"); }
Result<bool> Cursor::NextDup() { return Move(MDB_NEXT_DUP, "cursor next_dup"); }

Result<bool> Cursor::SeekRange(std::string_view key) {
  if (key.empty()) return First();  // LMDB rejects zero-length keys
  key_ = ToVal(key);
  return Move(MDB_SET_RANGE, "cursor set_range");
}

Result<bool> Cursor::SeekKey(std::string_view key) {
  if (key.empty()) return false;
  key_ = ToVal(key);
  return Move(MDB_SET_KEY, "cursor set_key");
}

Result<size_t> Cursor::CountDups() {
  if (cursor_ == nullptr) return size_t{0};
  size_t count = 0;
  int rc = mdb_cursor_count(cursor_, &count);
  if (rc != MDB_SUCCESS) return txn_->Fail(rc, "cursor count");
  return count;
}

}  // namespace threadmill::store
