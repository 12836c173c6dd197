// thread_store.cc - see thread_store.h.
#include "store/thread_store.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <utility>

#include "store/keys.h"
#include "store/lmdb_thread_backend.h"

namespace threadmill::store {
namespace {

Status ValidateId(std::string_view id, const char* what) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return MakeError(ErrorCode::kInvalidInput, std::string("store: ") + what + " must be 1.." +
                                                   std::to_string(kMaxIdBytes) + " bytes");
  }
  return {};
}

Status ValidateThreadId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxThreadIdBytes;
  for (unsigned char c : id) ok = ok && c >= 0x20 && c != 0x7f;
  if (!ok) return MakeError(ErrorCode::kInvalidInput, "store: invalid thread id");
  return {};
}

std::shared_ptr<ThreadBackend> BackendOf(std::shared_ptr<Environment> env) {
  if (auto shared = env->shared_backends().threads) return shared;
  return std::make_shared<LmdbThreadBackend>(std::move(env));
}
}  // namespace

ThreadStore::ThreadStore(std::shared_ptr<Environment> env) : backend_(BackendOf(std::move(env))) {}

ThreadStore::ThreadStore(std::shared_ptr<ThreadBackend> backend) : backend_(std::move(backend)) {}

Result<std::optional<MessageRecord>> ThreadStore::FindMessage(std::string_view msgid) const {
  if (Status st = ValidateId(msgid, "message id"); !st.ok()) return st.error();
  return backend_->FindMessage(msgid);
}

Result<std::optional<ThreadRecord>> ThreadStore::FindThread(std::string_view thread_id) const {
  if (Status st = ValidateThreadId(thread_id); !st.ok()) return st.error();
  return backend_->FindThread(thread_id);
}

Result<std::optional<std::string>> ThreadStore::FindThreadByIndex(
    std::string_view thread_index_root) const {
  if (Status st = ValidateId(thread_index_root, "thread-index root"); !st.ok()) return st.error();
  return backend_->FindThreadByIndex(thread_index_root);
}

Result<MessageRecord> ThreadStore::RecordMessage(const MessageRecord& rec,
                                                 std::string_view thread_index_root,
                                                 std::optional<ThreadRecord>* thread_after) {
  if (thread_after) thread_after->reset();
  if (Status st = ValidateId(rec.msgid, "message id"); !st.ok()) return st.error();
  if (!rec.thread_id.empty()) {
    if (Status st = ValidateThreadId(rec.thread_id); !st.ok()) return st.error();
  }
  if (!thread_index_root.empty()) {
    if (Status st = ValidateId(thread_index_root, "thread-index root"); !st.ok()) {
      return st.error();
    }
  }
  if (!rec.thread_id.empty()) return backend_->RecordMessage(rec, thread_index_root, thread_after);
  MessageRecord to_store = rec;
  to_store.thread_id = NewThreadId();
  return backend_->RecordMessage(to_store, thread_index_root, thread_after);
}

Result<std::vector<MessageRecord>> ThreadStore::ThreadMessages(std::string_view thread_id,
                                                               size_t limit) const {
  if (Status st = ValidateThreadId(thread_id); !st.ok()) return st.error();
  return backend_->ThreadMessages(thread_id, limit);
}

Status ThreadStore::SetThreadOwner(std::string_view thread_id, std::string_view owner) {
  if (Status st = ValidateThreadId(thread_id); !st.ok()) return st;
  return backend_->SetThreadOwner(thread_id, owner);
}

Result<SweepStats> ThreadStore::Sweep(int64_t older_than_unix) {
  return backend_->Sweep(older_than_unix);
}

std::string ThreadStore::NewThreadId() {
  static constexpr char kDigits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  uint64_t random = 0;
  ssize_t got = -1;
  do {
    got = getrandom(&random, sizeof random, 0);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof random)) {
    try {
      std::random_device rd;
      random = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
      random = Fnv1a64(std::to_string(ms) + std::to_string(reinterpret_cast<uintptr_t>(&got)));
    }
  }
  std::string id(21, '0');
  id[0] = 'T';
  for (int i = 10; i >= 1; --i, ms >>= 5) id[i] = kDigits[ms & 31];
  for (int i = 20; i >= 11; --i, random >>= 5) id[i] = kDigits[random & 31];
  return id;
}

}  // namespace threadmill::store
