/*
 * threadmill/handler.hpp - a thin header-only C++17 wrapper over the C ABI of handler.h.
 *
 * Write a class with a constructor (Context&, std::string_view config_json), an
 * `int on_inbound(Context&, const threadmill_envelope&)` member, and optionally
 * `int on_heartbeat(Context&)` and (ABI 1.1)
 * `int on_draft_decision(Context&, const threadmill_draft_decision&)`; then export it once
 * per module:
 *
 *   class Echo {
 *    public:
 *     Echo(threadmill::Context&, std::string_view) {}
 *     int on_inbound(threadmill::Context& ctx, const threadmill_envelope& env) {
 *       auto seen = ctx.kv_get("seen:" + std::string(env.sender_address));
 *       if (!seen) return THREADMILL_RETRY;           // store trouble, not "absent"
 *       if (*seen) return THREADMILL_OK;              // found: answered before
 *       auto st = ctx.reply(env.channel_message_id, "Got it: " + std::string(env.subject));
 *       if (!st) ctx.log(THREADMILL_LOG_INFO, "no reply: " + st.reason);
 *       return THREADMILL_OK;
 *     }
 *   };
 *   THREADMILL_CPP_HANDLER(Echo, "echo")
 *
 * ABI 1.1
 *   reply_ex / send_ex take a MessageOptions (subject, text, html, cc for send, attachments,
 *   extra headers) and return the new Message-ID ("<id@host>"; send_ex also the thread id);
 *   thread() returns a ThreadInfo (copies). Against a 1.0 host they fail with
 *   THREADMILL_INVALID, reason "host-abi-1.0" (has_abi_1_1() tells beforehand).
 *
 * RESULTS
 *   Host calls never hide an error. reply/kv_put/kv_delete return a HostStatus (code and
 *   last_error() reason). Calls that also produce a value return a HostResult<T>: either the
 *   value or the HostStatus of the failure. kv_get returns HostResult<std::optional<std::string>>:
 *   an engaged optional (found), std::nullopt (THREADMILL_NOT_FOUND, not an error) or a failed
 *   result (THREADMILL_STORE, ...). value() on a failed result throws BadHostResult, which the
 *   boundary turns into THREADMILL_RETRY, so an unchecked store error retries the job instead of
 *   being read as "no value". The names do not collide with threadmill's lib/common
 *   (threadmill::Status/Result): a translation unit may include both.
 *
 * BOUNDARY
 *   The wrapper owns the handler object (created in init, deleted in fini). Every function the
 *   host calls is noexcept and catches everything: a HandlerError(code, message) thrown by the
 *   handler is logged (error level, the message as is) and its code returned (e.g.
 *   THREADMILL_INVALID from a constructor that rejects the configuration, THREADMILL_FAIL from
 *   on_inbound to park a job); any other exception is logged as "NAME: internal error (...),
 *   will retry" and returns THREADMILL_RETRY (THREADMILL_INTERNAL from init). init refuses
 *   (THREADMILL_INVALID) a host table of another ABI major or shorter than ABI 1.0's. Strings
 *   returned by Context are copies, except raw_message() (valid during the callback); nothing
 *   returned needs freeing. Same threading rules as handler.h.
 */
#ifndef THREADMILL_HANDLER_HPP
#define THREADMILL_HANDLER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill {

// The outcome of a host call: code == THREADMILL_OK, or the code and last_error().
struct HostStatus {
  int code = THREADMILL_OK;
  std::string reason;
  bool ok() const { return code == THREADMILL_OK; }
  bool not_found() const { return code == THREADMILL_NOT_FOUND; }
  bool refused() const { return code == THREADMILL_REFUSED; }
  explicit operator bool() const { return ok(); }
  // "status 4 (reason)" for log lines.
  std::string describe() const {
    return "status " + std::to_string(code) + (reason.empty() ? "" : " (" + reason + ")");
  }
};

// Thrown by HostResult::value() on a failed result; the boundary turns it into a retry.
class BadHostResult : public std::runtime_error {
 public:
  explicit BadHostResult(const HostStatus& st)
      : std::runtime_error("unchecked host error: " + st.describe()), status_(st) {}
  const HostStatus& status() const { return status_; }

 private:
  HostStatus status_;
};

// Thrown by a handler to end a callback with `code` and one error log line `message`.
class HandlerError : public std::runtime_error {
 public:
  HandlerError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// A value of a host call, or the HostStatus saying why there is none.
template <typename T>
class HostResult {
 public:
  HostResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  HostResult(HostStatus failure) : v_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // The failure; {THREADMILL_OK, ""} when ok().
  HostStatus status() const { return ok() ? HostStatus{} : std::get<1>(v_); }
  int code() const { return ok() ? THREADMILL_OK : std::get<1>(v_).code; }
  // The value; throws BadHostResult when !ok().
  T& value() {
    if (!ok()) throw BadHostResult(std::get<1>(v_));
    return std::get<0>(v_);
  }
  const T& value() const {
    if (!ok()) throw BadHostResult(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, HostStatus> v_;
};

struct KvItem {
  std::string key;
  std::string value;  // empty unless values were requested
};

// ABI 1.1: a file attached to reply_ex / send_ex.
struct OutgoingFile {
  std::string filename;      // UTF-8, may be empty
  std::string content_type;  // "type/subtype"; empty: application/octet-stream
  std::string data;          // the bytes
};

// ABI 1.1: what reply_ex / send_ex send (handler.h threadmill_message_options).
struct MessageOptions {
  std::string subject;  // reply_ex: empty keeps "Re: ..."; send_ex: required
  std::string text;
  std::string html;             // empty: text only
  std::vector<std::string> cc;  // send_ex only
  std::vector<OutgoingFile> attachments;
  std::vector<std::pair<std::string, std::string>> headers;  // extra header fields
};

// ABI 1.1: what send_ex produced.
struct SendResult {
  std::string thread_id;
  std::string message_id;  // "<id@host>"
};

// ABI 1.1: one message of a thread (copies).
struct ThreadMessage {
  std::string message_id;  // "<id@host>"
  bool outbound = false;
  int64_t time = 0;
  std::string from;
  std::string subject;
  std::string in_reply_to;  // "<id@host>" or ""
};

// ABI 1.1: a conversation (host->thread), copied.
struct ThreadInfo {
  std::string thread_id;
  std::string subject;
  std::string owner;
  int64_t created = 0;
  int64_t updated = 0;
  std::vector<std::string> participants;
  std::vector<ThreadMessage> messages;  // oldest first
  uint64_t message_total = 0;
};

class Context {
 public:
  Context(threadmill_ctx* ctx, const threadmill_host_api* host) : ctx_(ctx), host_(host) {}

  HostStatus reply(const char* message_id, const std::string& text, const std::string& html = {}) {
    return Check(
        host_->reply(ctx_, message_id, text.c_str(), html.empty() ? nullptr : html.c_str()));
  }
  // The new conversation's thread id, or the failure.
  HostResult<std::string> send(const std::vector<std::string>& to, const std::string& subject,
                               const std::string& text) {
    std::vector<const char*> ptrs;
    for (const auto& t : to) ptrs.push_back(t.c_str());
    char out[128] = "";
    HostStatus st = Check(host_->send(ctx_, ptrs.data(), ptrs.size(), subject.c_str(), text.c_str(),
                                      out, sizeof out));
    if (!st) return st;
    out[sizeof out - 1] = '\0';
    return std::string(out);
  }
  // The new draft's id, or the failure.
  HostResult<std::string> draft(const char* message_id, const std::string& text,
                                const std::string& html = {}) {
    char out[128] = "";
    HostStatus st = Check(host_->draft(ctx_, message_id, text.c_str(),
                                       html.empty() ? nullptr : html.c_str(), out, sizeof out));
    if (!st) return st;
    out[sizeof out - 1] = '\0';
    return std::string(out);
  }
  // The value (engaged), absent (std::nullopt: THREADMILL_NOT_FOUND) or the store's failure.
  HostResult<std::optional<std::string>> kv_get(const std::string& key) {
    const void* value = nullptr;
    size_t len = 0;
    int rc = host_->kv_get(ctx_, key.c_str(), &value, &len);
    if (rc == THREADMILL_NOT_FOUND) return std::optional<std::string>();
    if (rc != THREADMILL_OK) return Check(rc);
    return std::optional<std::string>(Bytes(value, len));
  }
  HostStatus kv_put(const std::string& key, std::string_view value) {
    return Check(host_->kv_put(ctx_, key.c_str(), value.data(), value.size()));
  }
  // THREADMILL_NOT_FOUND (not_found()) when the key did not exist.
  HostStatus kv_delete(const std::string& key) {
    return Check(host_->kv_delete(ctx_, key.c_str()));
  }
  HostResult<std::vector<KvItem>> kv_list(const std::string& prefix, size_t limit = 100,
                                          bool include_values = false) {
    const threadmill_kv_item* items = nullptr;
    size_t count = 0;
    int rc = host_->kv_list(ctx_, prefix.c_str(), limit, include_values ? 1 : 0, &items, &count);
    if (rc != THREADMILL_OK) return Check(rc);
    std::vector<KvItem> out;
    for (size_t i = 0; items && i < count; ++i) {
      out.push_back({items[i].key ? items[i].key : "", Bytes(items[i].value, items[i].value_len)});
    }
    return out;
  }
  // ABI 1.1: whether the host has reply_ex, send_ex and thread.
  bool has_abi_1_1() const {
    return host_ && THREADMILL_HAS_MEMBER(host_->struct_size, threadmill_host_api, thread) &&
           host_->reply_ex && host_->send_ex && host_->thread;
  }
  // ABI 1.1: the reply's Message-ID, or the failure.
  HostResult<std::string> reply_ex(const char* message_id, const MessageOptions& options) {
    if (!has_abi_1_1()) return HostStatus{THREADMILL_INVALID, "host-abi-1.0"};
    OptionsView view(options);
    char out[THREADMILL_ID_CAP] = "";
    HostStatus st = Check(host_->reply_ex(ctx_, message_id, &view.c, out, sizeof out));
    if (!st) return st;
    out[sizeof out - 1] = '\0';
    return std::string(out);
  }
  // ABI 1.1: the new thread id and Message-ID, or the failure.
  HostResult<SendResult> send_ex(const std::vector<std::string>& to,
                                 const MessageOptions& options) {
    if (!has_abi_1_1()) return HostStatus{THREADMILL_INVALID, "host-abi-1.0"};
    std::vector<const char*> ptrs;
    for (const auto& t : to) ptrs.push_back(t.c_str());
    OptionsView view(options);
    char thread[THREADMILL_ID_CAP] = "";
    char msgid[THREADMILL_ID_CAP] = "";
    HostStatus st = Check(host_->send_ex(ctx_, ptrs.data(), ptrs.size(), &view.c, thread,
                                         sizeof thread, msgid, sizeof msgid));
    if (!st) return st;
    thread[sizeof thread - 1] = msgid[sizeof msgid - 1] = '\0';
    return SendResult{thread, msgid};
  }
  // ABI 1.1: a thread this handler owns, or the current message's (thread_id NULL).
  HostResult<ThreadInfo> thread(const char* thread_id = nullptr) {
    if (!has_abi_1_1()) return HostStatus{THREADMILL_INVALID, "host-abi-1.0"};
    const threadmill_thread* t = nullptr;
    int rc = host_->thread(ctx_, thread_id, &t);
    if (rc != THREADMILL_OK) return Check(rc);
    if (!t) return HostStatus{THREADMILL_INTERNAL, "no thread"};
    ThreadInfo info;
    info.thread_id = Str(t->thread_id);
    info.subject = Str(t->subject);
    info.owner = Str(t->owner);
    info.created = t->created;
    info.updated = t->updated;
    for (size_t i = 0; t->participants && i < t->participant_count; ++i) {
      info.participants.push_back(Str(t->participants[i]));
    }
    for (size_t i = 0; t->messages && i < t->message_count; ++i) {
      const threadmill_thread_message* m = t->messages[i];
      if (!m) continue;
      ThreadMessage out;
      out.message_id = Str(m->message_id);
      out.outbound = m->direction == THREADMILL_DIR_OUTBOUND;
      out.time = m->time;
      out.from = Str(m->from);
      out.subject = Str(m->subject);
      if (THREADMILL_HAS_MEMBER(m->struct_size, threadmill_thread_message, in_reply_to)) {
        out.in_reply_to = Str(m->in_reply_to);
      }
      info.messages.push_back(std::move(out));
    }
    info.message_total = t->message_total;
    return info;
  }
  // ABI 1.1: the page of keys after `start_after` ("" = from the first); limit 0 = the
  // maximum (THREADMILL_KV_MAX_LIST_ITEMS). A page shorter than the limit is the last. On a
  // 1.0 host a non-empty start_after is THREADMILL_INVALID ("host-without-kv-cursor").
  HostResult<std::vector<KvItem>> kv_list_after(const std::string& prefix,
                                                const std::string& start_after, size_t limit = 100,
                                                bool include_values = false) {
    if (!Has(offsetof(threadmill_host_api, kv_list_after))) {
      if (start_after.empty()) return kv_list(prefix, limit, include_values);
      return HostStatus{THREADMILL_INVALID, "host-without-kv-cursor"};
    }
    const threadmill_kv_item* items = nullptr;
    size_t count = 0;
    int rc = host_->kv_list_after(ctx_, prefix.c_str(), start_after.c_str(), limit,
                                  include_values ? 1 : 0, &items, &count);
    if (rc != THREADMILL_OK) return Check(rc);
    std::vector<KvItem> out;
    for (size_t i = 0; items && i < count; ++i) {
      out.push_back({items[i].key ? items[i].key : "", Bytes(items[i].value, items[i].value_len)});
    }
    return out;
  }
  // ABI 1.1: kv_put whose record expires ttl_seconds after the put (0 = never). On a 1.0
  // host a TTL is THREADMILL_INVALID ("host-without-kv-ttl").
  HostStatus kv_put_ttl(const std::string& key, std::string_view value, uint64_t ttl_seconds) {
    if (!Has(offsetof(threadmill_host_api, kv_put_ttl))) {
      if (ttl_seconds == 0) return kv_put(key, value);
      return HostStatus{THREADMILL_INVALID, "host-without-kv-ttl"};
    }
    return Check(host_->kv_put_ttl(ctx_, key.c_str(), value.data(), value.size(), ttl_seconds));
  }
  void log(int level, const std::string& message) { host_->log(ctx_, level, message.c_str()); }
  // The [handler.NAME] value of key, if set.
  std::optional<std::string> config(const char* key) {
    const char* v = host_->config_get(ctx_, key);
    return v ? std::optional<std::string>(v) : std::nullopt;
  }
  // The raw message; the view is valid during the callback.
  HostResult<std::string_view> raw_message() {
    const void* data = nullptr;
    size_t len = 0;
    int rc = host_->raw_message(ctx_, &data, &len);
    if (rc != THREADMILL_OK) return Check(rc);
    return data ? std::string_view(static_cast<const char*>(data), len) : std::string_view();
  }
  HostResult<std::string> attachment(const char* file_id) {
    const void* data = nullptr;
    size_t len = 0;
    int rc = host_->attachment_read(ctx_, file_id, &data, &len);
    if (rc != THREADMILL_OK) return Check(rc);
    return Bytes(data, len);
  }
  threadmill_ctx* raw() const { return ctx_; }
  const threadmill_host_api* host() const { return host_; }

 private:
  static std::string Str(const char* s) { return s ? std::string(s) : std::string(); }
  // The C view of MessageOptions (points into `o`, which must outlive it).
  struct OptionsView {
    explicit OptionsView(const MessageOptions& o) {
      for (const auto& a : o.cc) cc.push_back(a.c_str());
      for (const auto& f : o.attachments) {
        files.push_back({f.filename.c_str(),
                         f.content_type.empty() ? nullptr : f.content_type.c_str(), f.data.data(),
                         f.data.size()});
      }
      for (const auto& h : o.headers) headers.push_back({h.first.c_str(), h.second.c_str()});
      c.struct_size = sizeof c;
      c.subject = o.subject.empty() ? nullptr : o.subject.c_str();
      c.text = o.text.c_str();
      c.html = o.html.empty() ? nullptr : o.html.c_str();
      c.cc = cc.empty() ? nullptr : cc.data();
      c.cc_count = cc.size();
      c.attachments = files.empty() ? nullptr : files.data();
      c.attachment_count = files.size();
      c.headers = headers.empty() ? nullptr : headers.data();
      c.header_count = headers.size();
    }
    std::vector<const char*> cc;
    std::vector<threadmill_outgoing_attachment> files;
    std::vector<threadmill_header> headers;
    threadmill_message_options c{};
  };
  // True when the host table holds the function pointer at `offset`.
  bool Has(size_t offset) const { return host_->struct_size >= offset + sizeof(void (*)()); }
  static std::string Bytes(const void* data, size_t len) {
    return data ? std::string(static_cast<const char*>(data), len) : std::string();
  }
  HostStatus Check(int code) {
    if (code == THREADMILL_OK) return {};
    const char* reason = host_->last_error ? host_->last_error(ctx_) : nullptr;
    return {code, reason ? reason : ""};
  }
  threadmill_ctx* ctx_;
  const threadmill_host_api* host_;
};

namespace detail {

template <typename T, typename = void>
struct has_heartbeat : std::false_type {};
template <typename T>
struct has_heartbeat<
    T, std::void_t<decltype(std::declval<T&>().on_heartbeat(std::declval<Context&>()))>>
    : std::true_type {};

template <typename T, typename = void>
struct has_draft_decision : std::false_type {};
template <typename T>
struct has_draft_decision<
    T, std::void_t<decltype(std::declval<T&>().on_draft_decision(
           std::declval<Context&>(), std::declval<const threadmill_draft_decision&>()))>>
    : std::true_type {};

// True when `host` is an ABI 1 table holding at least every ABI 1.0 member.
inline bool HostUsable(const threadmill_host_api* host) noexcept {
  return host && host->abi_major == THREADMILL_ABI_MAJOR &&
         host->struct_size >=
             offsetof(threadmill_host_api, state) + sizeof(threadmill_host_api::state);
}

template <typename H>
struct Adapter {
  // The ABI gives callbacks after init only the ctx: the table from init is kept here (the host
  // promises it lives as long as the module is loaded).
  static std::atomic<const threadmill_host_api*>& Host() noexcept {
    static std::atomic<const threadmill_host_api*> host{nullptr};
    return host;
  }
  static const char*& Name() noexcept {
    static const char* name = "handler";
    return name;
  }
  static void Log(threadmill_ctx* ctx, const threadmill_host_api* host, int level,
                  const char* text) noexcept {
    if (host && host->log) host->log(ctx, level, text);
  }
  // Logs the exception in flight and returns the status the callback ends with.
  static int Contain(threadmill_ctx* ctx, const threadmill_host_api* host, int otherwise) noexcept {
    std::string what;
    try {
      try {
        throw;
      } catch (const HandlerError& e) {
        Log(ctx, host, THREADMILL_LOG_ERROR, e.what());
        return e.code();
      } catch (const std::bad_alloc&) {
        what = "out of memory";
      } catch (const std::exception& e) {
        what = std::string("internal error (") + e.what() + ")";
      } catch (...) {
        what = "internal error (unknown exception)";
      }
      what =
          std::string(Name()) + ": " + what + (otherwise == THREADMILL_RETRY ? ", will retry" : "");
      Log(ctx, host, THREADMILL_LOG_ERROR, what.c_str());
    } catch (...) {  // no memory left for the line
      Log(ctx, host, THREADMILL_LOG_ERROR, "handler: internal error");
    }
    return otherwise;
  }
  static int Init(threadmill_ctx* ctx, const threadmill_host_api* host, const char* json,
                  void** state) noexcept {
    if (!state || !HostUsable(host)) return THREADMILL_INVALID;
    Host().store(host);
    try {
      Context c(ctx, host);
      *state = new H(c, json ? std::string_view(json) : std::string_view("{}"));
      return THREADMILL_OK;
    } catch (...) {
      return Contain(ctx, host, THREADMILL_INTERNAL);
    }
  }
  static int OnInbound(threadmill_ctx* ctx, const threadmill_envelope* env) noexcept {
    const threadmill_host_api* host = Host().load();
    if (!host || !env) return THREADMILL_FAIL;
    try {
      H* handler = static_cast<H*>(host->state(ctx));
      if (!handler) return THREADMILL_FAIL;
      Context c(ctx, host);
      return handler->on_inbound(c, *env);
    } catch (...) {
      return Contain(ctx, host, THREADMILL_RETRY);
    }
  }
  static int OnHeartbeat(threadmill_ctx* ctx) noexcept {
    if constexpr (has_heartbeat<H>::value) {
      const threadmill_host_api* host = Host().load();
      if (!host) return THREADMILL_FAIL;
      try {
        H* handler = static_cast<H*>(host->state(ctx));
        if (!handler) return THREADMILL_FAIL;
        Context c(ctx, host);
        return handler->on_heartbeat(c);
      } catch (...) {
        return Contain(ctx, host, THREADMILL_RETRY);
      }
    } else {
      (void)ctx;
      return THREADMILL_OK;
    }
  }
  static int OnDraftDecision(threadmill_ctx* ctx, const threadmill_draft_decision* d) noexcept {
    if constexpr (has_draft_decision<H>::value) {
      const threadmill_host_api* host = Host().load();
      if (!host || !d) return THREADMILL_FAIL;
      try {
        H* handler = static_cast<H*>(host->state(ctx));
        if (!handler) return THREADMILL_FAIL;
        Context c(ctx, host);
        return handler->on_draft_decision(c, *d);
      } catch (...) {
        return Contain(ctx, host, THREADMILL_RETRY);
      }
    } else {
      (void)ctx;
      (void)d;
      return THREADMILL_OK;
    }
  }
  static void Fini(void* state) noexcept {
    try {
      delete static_cast<H*>(state);
    } catch (...) {
    }
  }
  static const threadmill_handler* Table(const char* name) noexcept {
    Name() = name;
    static const threadmill_handler table = {
        sizeof(threadmill_handler),
        THREADMILL_ABI_MAJOR,
        THREADMILL_ABI_MINOR,
        name,
        &Init,
        &OnInbound,
        has_heartbeat<H>::value ? &OnHeartbeat : nullptr,
        &Fini,
        has_draft_decision<H>::value ? &OnDraftDecision : nullptr};
    return &table;
  }
};

}  // namespace detail
}  // namespace threadmill

/* Defines the module's entry symbol for handler class CLASS named NAME. Use once. */
#define THREADMILL_CPP_HANDLER(CLASS, NAME)                                                     \
  extern "C" THREADMILL_EXPORT const threadmill_handler* threadmill_handler_v1(void) noexcept { \
    return ::threadmill::detail::Adapter<CLASS>::Table(NAME);                                   \
  }

#endif /* THREADMILL_HANDLER_HPP */
