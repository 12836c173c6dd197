// environment.cc - see environment.h.
#include "store/environment.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>

#include "store/lmdb_error.h"

namespace threadmill::store {
namespace {

constexpr int kMaxBeginAttempts = 16;  // MDB_MAP_RESIZED re-reads per begin
constexpr int kMaxWriteAttempts = 64;  // map growths per Write
constexpr size_t kMinGrowth = size_t{1} << 20;

// Aborts a raw transaction on scope exit unless released (open-time only).
struct RawTxn {
  MDB_txn* txn = nullptr;
  ~RawTxn() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
  int Commit() {
    int rc = mdb_txn_commit(txn);
    txn = nullptr;
    return rc;
  }
};

Result<unsigned> ParseVersion(std::string_view text) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return MakeError(ErrorCode::kStore,
                     "store: unreadable schema version '" + std::string(text) + "'");
  }
  return v;
}

Status CreateDirectory(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (!ec) return {};
  return MakeError(ec == std::errc::permission_denied ? ErrorCode::kPermission : ErrorCode::kStore,
                   "store: cannot create " + path + ": " + ec.message());
}

// Environments open in this process, by canonical path.
struct OpenEnvironments {
  struct Entry {
    pid_t pid = 0;
    std::weak_ptr<Environment> env;
  };
  std::mutex mu;
  std::map<std::string, Entry> by_path;
};

OpenEnvironments& Registry() {
  static auto* registry = new OpenEnvironments;  // never destroyed: usable during exit
  return *registry;
}

}  // namespace

Result<std::shared_ptr<Environment>> Environment::Open(const EnvOptions& options) {
  if (options.path.empty()) return MakeError(ErrorCode::kInvalidInput, "store: empty path");
  if (options.map_size_bytes == 0 || options.max_readers == 0) {
    return MakeError(ErrorCode::kInvalidInput, "store: map size and max readers must be > 0");
  }
  if (!options.read_only) {
    if (Status st = CreateDirectory(options.path); !st.ok()) return st.error();
  }
  // LMDB forbids two handles on one file in a process (closing one drops the other's
  // fcntl locks): hand out the open one. Entries of the parent process (before a fork)
  // are ignored: the child needs its own handle.
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(options.path, ec).string();
  if (ec) key = options.path;
  OpenEnvironments& open = Registry();
  std::lock_guard lock(open.mu);
  auto it = open.by_path.find(key);
  if (it != open.by_path.end() && it->second.pid == getpid()) {
    if (std::shared_ptr<Environment> existing = it->second.env.lock()) {
      if (existing->read_only() != options.read_only) {
        return MakeError(ErrorCode::kInvalidInput,
                         "store: " + options.path + " is already open in this process " +
                             (existing->read_only() ? "read-only" : "read-write"));
      }
      return existing;
    }
  }
  std::shared_ptr<Environment> env(new (std::nothrow) Environment(options));
  if (!env) return MakeError(ErrorCode::kTemporary, "store: out of memory");
  env->options_.max_map_size_bytes = std::max(options.max_map_size_bytes, options.map_size_bytes);
  env->dbis_.fill(kMissingDbi);
  if (Status st = env->OpenEnv(); !st.ok()) return st.error();
  if (Status st = env->OpenDatabases(); !st.ok()) return st.error();
  open.by_path[key] = OpenEnvironments::Entry{getpid(), env};
  return env;
}

Environment::~Environment() {
  if (env_ != nullptr) mdb_env_close(env_);
}

void Environment::AttachSharedBackends(SharedBackends backends) {
  std::lock_guard lock(shared_mutex_);
  shared_ = std::move(backends);
}

SharedBackends Environment::shared_backends() const {
  std::lock_guard lock(shared_mutex_);
  return shared_;
}

Status Environment::Sync() {
  if (options_.read_only) return {};
  int rc = mdb_env_sync(env_, 1);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "env_sync");
  return {};
}

Status Environment::OpenEnv() {
  int rc = mdb_env_create(&env_);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "env_create");
  if ((rc = mdb_env_set_maxdbs(env_, kMaxDbs)) != MDB_SUCCESS) {
    return LmdbError(rc, "env_set_maxdbs");
  }
  if ((rc = mdb_env_set_maxreaders(env_, options_.max_readers)) != MDB_SUCCESS) {
    return LmdbError(rc, "env_set_maxreaders");
  }
  if ((rc = mdb_env_set_mapsize(env_, options_.map_size_bytes)) != MDB_SUCCESS) {
    return LmdbError(rc, "env_set_mapsize");
  }
  unsigned flags = MDB_NOTLS | (options_.read_only ? MDB_RDONLY : 0) |
                   (options_.sync_each_commit || options_.read_only ? 0 : MDB_NOSYNC);
  if ((rc = mdb_env_open(env_, options_.path.c_str(), flags, 0640)) != MDB_SUCCESS) {
    return LmdbError(rc, "env_open " + options_.path);
  }
  if ((rc = mdb_reader_check(env_, &stale_readers_)) != MDB_SUCCESS) {
    return LmdbError(rc, "reader_check");
  }
  RefreshMapSize();
  return {};
}

Status Environment::OpenDatabases() {
  RawTxn txn;
  unsigned txn_flags = options_.read_only ? MDB_RDONLY : 0;
  int rc = mdb_txn_begin(env_, nullptr, txn_flags, &txn.txn);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "txn_begin (open databases)");
  for (const DbSpec& spec : kDatabases) {
    unsigned flags = spec.flags | (options_.read_only ? 0 : MDB_CREATE);
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn.txn, spec.name, flags, &dbi);
    if (rc == MDB_NOTFOUND && options_.read_only) continue;  // reads as empty
    if (rc != MDB_SUCCESS) return LmdbError(rc, std::string("dbi_open ") + spec.name);
    dbis_[static_cast<size_t>(spec.db)] = dbi;
  }
  // Schema version: written on first open, checked on every open.
  MDB_dbi meta = dbi(Db::kMeta);
  if (meta != kMissingDbi) {
    MDB_val k = ToVal(kSchemaVersionKey);
    MDB_val v{0, nullptr};
    rc = mdb_get(txn.txn, meta, &k, &v);
    if (rc == MDB_SUCCESS) {
      Result<unsigned> version = ParseVersion(FromVal(v));
      if (!version.ok()) return version.error();
      if (*version > kSchemaVersion) {
        return MakeError(ErrorCode::kStore, "store: " + options_.path + " has schema version " +
                                                std::to_string(*version) + ", newer than " +
                                                std::to_string(kSchemaVersion));
      }
    } else if (rc == MDB_NOTFOUND && !options_.read_only) {
      std::string text = std::to_string(kSchemaVersion);
      MDB_val nv = ToVal(text);
      rc = mdb_put(txn.txn, meta, &k, &nv, 0);
      if (rc != MDB_SUCCESS) return LmdbError(rc, "put schema version");
    } else if (rc != MDB_NOTFOUND) {
      return LmdbError(rc, "get schema version");
    }
  }
  rc = txn.Commit();  // also for read-only: keeps the dbi handles
  if (rc != MDB_SUCCESS) return LmdbError(rc, "txn_commit (open databases)");
  return {};
}

void Environment::RefreshMapSize() const {
  MDB_envinfo info{};
  if (mdb_env_info(env_, &info) == MDB_SUCCESS) map_size_.store(info.me_mapsize);
}

Status Environment::AdoptResize() const {
  ExclusiveGate hold(gate_);
  int rc = mdb_env_set_mapsize(env_, 0);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "env_set_mapsize (adopt)");
  RefreshMapSize();
  return {};
}

Status Environment::Grow(size_t seen) {
  ExclusiveGate hold(gate_);
  RefreshMapSize();
  size_t current = map_size_.load();
  if (current > seen) return {};  // another thread grew it meanwhile
  if (current >= options_.max_map_size_bytes) {
    return MakeError(ErrorCode::kTemporary, "lmdb: map full at its maximum size of " +
                                                std::to_string(current) +
                                                " bytes: raise [store] max_map_size_mb (now " +
                                                std::to_string(options_.max_map_size_bytes >> 20) +
                                                ") or lower [store] retention_days");
  }
  size_t wanted =
      std::min(options_.max_map_size_bytes, std::max(current * 2, current + kMinGrowth));
  int rc = mdb_env_set_mapsize(env_, wanted);
  if (rc != MDB_SUCCESS) return LmdbError(rc, "env_set_mapsize (grow)");
  RefreshMapSize();
  return {};
}

Result<ReadTxn> Environment::BeginRead() const {
  for (int attempt = 0; attempt < kMaxBeginAttempts; ++attempt) {
    gate_.EnterShared();
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_SUCCESS) return ReadTxn(txn, &gate_);
    gate_.LeaveShared();
    if (rc != MDB_MAP_RESIZED) return LmdbError(rc, "txn_begin (read)");
    if (Status st = AdoptResize(); !st.ok()) return st.error();
  }
  return MakeError(ErrorCode::kTemporary, "lmdb: map keeps being resized (read)");
}

Result<WriteTxn> Environment::BeginWrite() {
  for (int attempt = 0; attempt < kMaxBeginAttempts; ++attempt) {
    gate_.EnterShared();
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_SUCCESS) return WriteTxn(txn, &gate_);
    gate_.LeaveShared();
    if (rc != MDB_MAP_RESIZED) return LmdbError(rc, "txn_begin (write)");
    if (Status st = AdoptResize(); !st.ok()) return st.error();
  }
  return MakeError(ErrorCode::kTemporary, "lmdb: map keeps being resized (write)");
}

Status Environment::Read(const std::function<Status(ReadTxn&)>& fn) const {
  Result<ReadTxn> txn = BeginRead();
  if (!txn.ok()) return txn.error();
  try {
    return fn(*txn);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("store: read callback threw: ") + e.what());
  }
}

Status Environment::CheckWriteError(const Status& st) const {
  if (st.ok() || st.error().code == ErrorCode::kInvalidInput ||
      st.error().code == ErrorCode::kNotFound || st.error().code == ErrorCode::kRefused) {
    return st;  // a callback's own verdict, not the store's trouble
  }
  return CheckDiskSpace(st.error(), options_.path);
}

Status Environment::Write(const std::function<Status(WriteTxn&)>& fn) {
  if (options_.read_only) {
    return MakeError(ErrorCode::kPermission, "store: " + options_.path + " is open read-only");
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    Result<WriteTxn> begun = BeginWrite();
    if (!begun.ok()) return begun.error();
    WriteTxn& txn = *begun;
    const size_t seen = map_size_.load();  // stable while we hold the gate shared
    Status st;
    try {
      st = fn(txn);
    } catch (const std::exception& e) {
      st = MakeError(ErrorCode::kInternal, std::string("store: write callback threw: ") + e.what());
    }
    if (!txn.map_full()) {
      if (!st.ok() || !txn.active()) return CheckWriteError(st);  // ~WriteTxn aborts
      st = txn.Commit();
      if (st.ok()) return st;
      if (!txn.map_full()) return CheckWriteError(st);
    }
    txn.Abort();
    if (Status grown = Grow(seen); !grown.ok()) return grown;
  }
  return MakeError(ErrorCode::kTemporary, "lmdb: map full after repeated growth");
}

}  // namespace threadmill::store
