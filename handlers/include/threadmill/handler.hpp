/*
 * threadmill/handler.hpp - a thin header-only C++17 wrapper over the C ABI of handler.h.
 *
 * Write a class with a constructor (Context&, std::string_view config_json), an
 * `int on_inbound(Context&, const threadmill_envelope&)` member, and optionally
 * `int on_heartbeat(Context&)`; then export it once per module:
 *
 *   class Echo {
 *    public:
 *     Echo(threadmill::Context&, std::string_view) {}
 *     int on_inbound(threadmill::Context& ctx, const threadmill_envelope& env) {
 *       auto st = ctx.reply(env.channel_message_id, "Got it: " + std::string(env.subject));
 *       if (!st) ctx.log(THREADMILL_LOG_INFO, "no reply: " + st.reason);
 *       return THREADMILL_OK;
 *     }
 *   };
 *   THREADMILL_CPP_HANDLER(Echo, "echo")
 *
 * The wrapper owns the handler object (created in init, deleted in fini) and catches every
 * exception at the boundary (an escaping exception makes the call return THREADMILL_RETRY
 * and is logged): nothing C++ crosses the C ABI. Strings returned by Context are copies;
 * nothing returned needs freeing. Same threading rules as handler.h.
 */
#ifndef THREADMILL_HANDLER_HPP
#define THREADMILL_HANDLER_HPP

#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill {

// The outcome of a host call: code == THREADMILL_OK, or the code and last_error().
struct Status {
  int code = THREADMILL_OK;
  std::string reason;
  explicit operator bool() const { return code == THREADMILL_OK; }
};

struct KvItem {
  std::string key;
  std::string value;  // empty unless values were requested
};

class Context {
 public:
  Context(threadmill_ctx* ctx, const threadmill_host_api* host) : ctx_(ctx), host_(host) {}

  Status reply(const char* message_id, const std::string& text, const std::string& html = {}) {
    return Check(
        host_->reply(ctx_, message_id, text.c_str(), html.empty() ? nullptr : html.c_str()));
  }
  // The new conversation's thread id, or the failure.
  std::pair<Status, std::string> send(const std::vector<std::string>& to,
                                      const std::string& subject, const std::string& text) {
    std::vector<const char*> ptrs;
    for (const auto& t : to) ptrs.push_back(t.c_str());
    char out[128] = "";
    Status st = Check(host_->send(ctx_, ptrs.data(), ptrs.size(), subject.c_str(), text.c_str(),
                                  out, sizeof out));
    return {st, st ? std::string(out) : std::string()};
  }
  std::pair<Status, std::string> draft(const char* message_id, const std::string& text,
                                       const std::string& html = {}) {
    char out[128] = "";
    Status st = Check(host_->draft(ctx_, message_id, text.c_str(),
                                   html.empty() ? nullptr : html.c_str(), out, sizeof out));
    return {st, st ? std::string(out) : std::string()};
  }
  std::optional<std::string> kv_get(const std::string& key) {
    const void* value = nullptr;
    size_t len = 0;
    if (host_->kv_get(ctx_, key.c_str(), &value, &len) != THREADMILL_OK) return std::nullopt;
    return std::string(static_cast<const char*>(value), len);
  }
  Status kv_put(const std::string& key, std::string_view value) {
    return Check(host_->kv_put(ctx_, key.c_str(), value.data(), value.size()));
  }
  Status kv_delete(const std::string& key) { return Check(host_->kv_delete(ctx_, key.c_str())); }
  std::vector<KvItem> kv_list(const std::string& prefix, size_t limit = 100,
                              bool include_values = false) {
    const threadmill_kv_item* items = nullptr;
    size_t count = 0;
    std::vector<KvItem> out;
    if (host_->kv_list(ctx_, prefix.c_str(), limit, include_values ? 1 : 0, &items, &count) !=
        THREADMILL_OK) {
      return out;
    }
    for (size_t i = 0; i < count; ++i) {
      out.push_back({items[i].key,
                     items[i].value
                         ? std::string(static_cast<const char*>(items[i].value), items[i].value_len)
                         : std::string()});
    }
    return out;
  }
  void log(int level, const std::string& message) { host_->log(ctx_, level, message.c_str()); }
  // The [handler.NAME] value of key, if set.
  std::optional<std::string> config(const char* key) {
    const char* v = host_->config_get(ctx_, key);
    return v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::string_view raw_message() {
    const void* data = nullptr;
    size_t len = 0;
    if (host_->raw_message(ctx_, &data, &len) != THREADMILL_OK) return {};
    return {static_cast<const char*>(data), len};
  }
  std::optional<std::string> attachment(const char* file_id) {
    const void* data = nullptr;
    size_t len = 0;
    if (host_->attachment_read(ctx_, file_id, &data, &len) != THREADMILL_OK) return std::nullopt;
    return std::string(static_cast<const char*>(data), len);
  }
  threadmill_ctx* raw() const { return ctx_; }
  const threadmill_host_api* host() const { return host_; }

 private:
  Status Check(int code) {
    if (code == THREADMILL_OK) return {};
    const char* reason = host_->last_error(ctx_);
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

template <typename H>
struct Adapter {
  struct Box {
    const threadmill_host_api* host;
    H* handler;
  };
  static const threadmill_host_api*& Host() {
    static const threadmill_host_api* host = nullptr;
    return host;
  }
  static void LogException(threadmill_ctx* ctx, const char* what) noexcept {
    try {
      if (Host())
        Host()->log(ctx, THREADMILL_LOG_ERROR, (std::string("exception: ") + what).c_str());
    } catch (...) {
    }
  }
  static int Init(threadmill_ctx* ctx, const threadmill_host_api* host, const char* json,
                  void** state) noexcept {
    Host() = host;
    try {
      Context c(ctx, host);
      *state = new Box{host, new H(c, json ? std::string_view(json) : std::string_view("{}"))};
      return THREADMILL_OK;
    } catch (const std::exception& e) {
      LogException(ctx, e.what());
    } catch (...) {
      LogException(ctx, "unknown");
    }
    return THREADMILL_INTERNAL;
  }
  static Box* BoxOf(threadmill_ctx* ctx) {
    return static_cast<Box*>(Host() ? Host()->state(ctx) : nullptr);
  }
  static int OnInbound(threadmill_ctx* ctx, const threadmill_envelope* env) noexcept {
    try {
      Box* box = BoxOf(ctx);
      if (!box) return THREADMILL_INTERNAL;
      Context c(ctx, box->host);
      return box->handler->on_inbound(c, *env);
    } catch (const std::exception& e) {
      LogException(ctx, e.what());
    } catch (...) {
      LogException(ctx, "unknown");
    }
    return THREADMILL_RETRY;
  }
  static int OnHeartbeat(threadmill_ctx* ctx) noexcept {
    if constexpr (has_heartbeat<H>::value) {
      try {
        Box* box = BoxOf(ctx);
        if (!box) return THREADMILL_INTERNAL;
        Context c(ctx, box->host);
        return box->handler->on_heartbeat(c);
      } catch (const std::exception& e) {
        LogException(ctx, e.what());
      } catch (...) {
        LogException(ctx, "unknown");
      }
      return THREADMILL_RETRY;
    } else {
      (void)ctx;
      return THREADMILL_OK;
    }
  }
  static void Fini(void* state) noexcept {
    Box* box = static_cast<Box*>(state);
    if (!box) return;
    try {
      delete box->handler;
    } catch (...) {
    }
    delete box;
  }
  static const threadmill_handler* Table(const char* name) {
    static const threadmill_handler table = {sizeof(threadmill_handler),
                                             THREADMILL_ABI_MAJOR,
                                             THREADMILL_ABI_MINOR,
                                             name,
                                             &Init,
                                             &OnInbound,
                                             has_heartbeat<H>::value ? &OnHeartbeat : nullptr,
                                             &Fini};
    return &table;
  }
};

}  // namespace detail
}  // namespace threadmill

/* Defines the module's entry symbol for handler class CLASS named NAME. Use once. */
#define THREADMILL_CPP_HANDLER(CLASS, NAME)                                            \
  extern "C" THREADMILL_EXPORT const threadmill_handler* threadmill_handler_v1(void) { \
    return ::threadmill::detail::Adapter<CLASS>::Table(NAME);                          \
  }

#endif /* THREADMILL_HANDLER_HPP */
