#include "admin/thread_search.h"

#include <algorithm>

#include "common/ascii.h"
#include "mail/msgid.h"
#include "store/thread_store.h"

namespace threadmill::admin {
namespace {

constexpr size_t kPage = 1000;  // threads read per call

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
  // Every thread, a page at a time, from whichever backend keeps them (store/thread_backend.h).
  std::string after;
  for (;;) {
    auto page = threads.ListThreads(after, kPage);
    if (!page.ok()) return page.error();
    if (!page->empty()) after = page->back().thread_id;  // before the records move
    for (auto& thread : *page) {
      if (Matches(thread, q)) out.push_back(std::move(thread));
    }
    if (page->size() < kPage) break;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.updated != b.updated ? a.updated > b.updated : a.thread_id > b.thread_id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace threadmill::admin
