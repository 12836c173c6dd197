#include "thread/resolver.h"

namespace threadmill::thread {
namespace {

// Looks `id` up; sets *out and returns true when it is a known message other than `self`.
Result<bool> Lookup(const store::ThreadStore& store, const std::string& id, const std::string& self,
                    Resolution* out, MatchMethod method) {
  if (id.empty() || id == self) return false;
  auto found = store.FindMessage(id);
  if (!found.ok()) return found.error();
  if (!found->has_value()) return false;
  out->thread_id = (*found)->thread_id;
  out->parent = id;
  out->parent_record = std::move(**found);
  out->method = method;
  return true;
}

// The thread's recent message whose Thread-Index is the longest proper prefix of ours.
Status ThreadIndexParent(const store::ThreadStore& store, const ThreadHeaders& headers,
                         Resolution* out) {
  const std::string& ours = headers.thread_index;
  if (ours.empty()) return {};
  auto thread = store.FindThread(out->thread_id);
  if (!thread.ok()) return thread.error();
  if (!thread->has_value()) return {};
  size_t best = 0;
  for (const std::string& id : (*thread)->recent_msgids) {
    if (id == headers.message_id) continue;
    auto found = store.FindMessage(id);
    if (!found.ok()) return found.error();
    if (!found->has_value()) continue;
    const std::string& theirs = (**found).thread_index;
    if (theirs.size() > best && theirs.size() < ours.size() && ours.starts_with(theirs)) {
      best = theirs.size();
      out->parent = id;
      out->parent_record = std::move(**found);
    }
  }
  return {};
}

}  // namespace

const char* ToString(MatchMethod method) {
  switch (method) {
    case MatchMethod::kNone:
      return "none";
    case MatchMethod::kInReplyTo:
      return "in-reply-to";
    case MatchMethod::kReferences:
      return "references";
    case MatchMethod::kThreadIndex:
      return "thread-index";
    case MatchMethod::kToken:
      return "token";
  }
  return "none";
}

Result<Resolution> Resolve(const store::ThreadStore& store, const ThreadHeaders& headers,
                           bool use_thread_index, const TokenResult* token) {
  Resolution resolution;
  const std::string& self = headers.message_id;
  size_t budget = kMaxLookups;

  for (auto it = headers.in_reply_to.rbegin(); it != headers.in_reply_to.rend() && budget;
       ++it, --budget) {
    auto hit = Lookup(store, *it, self, &resolution, MatchMethod::kInReplyTo);
    if (!hit.ok()) return hit.error();
    if (*hit) return resolution;
  }
  const auto& refs = headers.references;
  for (auto it = refs.rbegin(); it != refs.rend() && budget; ++it, --budget) {
    auto hit = Lookup(store, *it, self, &resolution, MatchMethod::kReferences);
    if (!hit.ok()) return hit.error();
    if (*hit) return resolution;
  }
  if (!budget && !refs.empty()) {  // the first reference names the conversation's root
    auto hit = Lookup(store, refs.front(), self, &resolution, MatchMethod::kReferences);
    if (!hit.ok()) return hit.error();
    if (*hit) return resolution;
  }
  if (use_thread_index && !headers.thread_index_root.empty()) {
    auto found = store.FindThreadByIndex(headers.thread_index_root);
    if (!found.ok()) return found.error();
    if (found->has_value()) {
      resolution.thread_id = **found;
      resolution.method = MatchMethod::kThreadIndex;
      if (Status st = ThreadIndexParent(store, headers, &resolution); !st.ok()) return st.error();
      return resolution;
    }
  }
  if (token && token->check == TokenCheck::kValid) {
    auto thread = store.FindThread(token->thread_id);
    if (!thread.ok()) return thread.error();
    if (thread->has_value()) {
      resolution.thread_id = token->thread_id;
      resolution.method = MatchMethod::kToken;
      return resolution;
    }
    resolution.token_reason = "token-unknown-thread";
  } else if (token) {
    resolution.token_reason = ToString(token->check);
  }
  resolution.thread_id = store::ThreadStore::NewThreadId();
  return resolution;
}

}  // namespace threadmill::thread
