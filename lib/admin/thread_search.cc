#include "admin/thread_search.h"

#include <algorithm>

#include "common/ascii.h"
#include "mail/msgid.h"
#include "store/schema.h"
#include "store/thread_store.h"
#include "store/txn.h"

namespace threadmill::admin {
namespace {

bool Contains(std::string_view haystack, const std::string& lower_needle) {
  return ascii::ToLower(haystack).find(lower_needle) != std::string::npos;
}

bool Matches(const store::ThreadRecord& t, const std::string& q) {
  if (q.empty()) return true;
  if (Contains(t.thread_id, q) || Contains(t.subject, q)) return true;
  for (const auto& p : t.participants) {
    if (Contains(p, q)) return true;
  }
  for (const auto& m : t.recent_msgids) {
    if (Contains(m, q)) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<store::ThreadRecord>> SearchThreads(
    const std::shared_ptr<store::Environment>& env, std::string_view query, size_t limit) {
  std::string_view trimmed = ascii::Trim(query);
  std::vector<store::ThreadRecord> out;
  store::ThreadStore threads(env);
  if (trimmed.find('@') != std::string_view::npos) {
    auto id = mail::ParseMsgId(trimmed.starts_with('<') ? std::string(trimmed)
                                                        : mail::FormatMsgId(trimmed));
    if (!id.id.empty()) {
      auto message = threads.FindMessage(id.id);
      if (message.ok() && message->has_value()) {
        auto thread = threads.FindThread((*message)->thread_id);
        if (thread.ok() && thread->has_value()) {
          out.push_back(std::move(**thread));
          return out;
        }
      }
    }
  }
  // Trailing '>' and leading '<' of a pasted Message-ID should still find its substring.
  std::string q = ascii::ToLower(trimmed);
  if (q.size() > 2 && q.front() == '<' && q.back() == '>') q = q.substr(1, q.size() - 2);
  Status read = env->Read([&](store::ReadTxn& txn) -> Status {
    MDB_dbi dbi = env->dbi(store::Db::kThread);
    if (dbi == store::kMissingDbi) return {};
    auto cursor = store::Cursor::Open(txn, dbi);
    if (!cursor.ok()) return cursor.error();
    auto at = cursor->First();
    for (; at.ok() && *at; at = cursor->Next()) {
      auto thread = store::DecodeThread(cursor->value());
      if (!thread.ok() || !Matches(*thread, q)) continue;
      out.push_back(std::move(*thread));
    }
    if (!at.ok()) return at.error();
    return {};
  });
  if (!read.ok()) return read.error();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.updated != b.updated ? a.updated > b.updated : a.thread_id > b.thread_id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace threadmill::admin
