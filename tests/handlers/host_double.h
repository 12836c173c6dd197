// host_double.h - a test double of threadmill's host API, and a loader for a real handler .so,
// shared by the shipped handlers' tests (tests/handlers/<name>/).
//
// DESCRIPTION
//   The real host lives in the runtime (lib/runtime, lib/reply), which has its own tests and
//   the end-to-end runs through Postfix. Here the host is a double: it records reply, draft,
//   send, kv and log calls, keeps kv in a std::map (kv_list in key order), answers
//   config_get, attachment_read and raw_message from maps, and can be told to refuse replies, so a
//   handler test checks exactly what the handler asked the host to do. Module dlopen()s the real
//   module file built by CMake and calls it only through the C ABI, as the runtime does.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill::test {
class HostDouble;
}

// The ABI leaves threadmill_ctx opaque; the double defines it as a pointer to itself.
struct threadmill_ctx {
  threadmill::test::HostDouble* host;
};

namespace threadmill::test {

struct ReplyCall {
  std::string message_id;
  std::string text;
  std::string html;
  bool has_html = false;
};

struct SendCall {
  std::vector<std::string> to;
  std::string subject;
  std::string text;
};

struct LogLine {
  int level;
  std::string message;
};

class HostDouble {
 public:
  HostDouble() {
    ctx.host = this;
    std::memset(&api, 0, sizeof api);
    api.struct_size = sizeof api;
    api.abi_major = THREADMILL_ABI_MAJOR;
    api.abi_minor = THREADMILL_ABI_MINOR;
    api.reply = [](threadmill_ctx* c, const char* id, const char* text, const char* html) {
      return c->host->Reply(&c->host->replies, id, text, html);
    };
    api.send = [](threadmill_ctx* c, const char* const* to, size_t n, const char* subject,
                  const char* text, char* out, size_t cap) {
      HostDouble* h = c->host;
      h->send_calls++;
      if (!h->accept_sends) return static_cast<int>(THREADMILL_REFUSED);
      SendCall call{{}, subject ? subject : "", text ? text : ""};
      for (size_t i = 0; i < n; ++i) call.to.push_back(to[i]);
      h->sends.push_back(call);
      std::snprintf(out, cap, "thread-%zu", h->sends.size());
      return static_cast<int>(THREADMILL_OK);
    };
    api.draft = [](threadmill_ctx* c, const char* id, const char* text, const char* html, char* out,
                   size_t cap) {
      int rc = c->host->Reply(&c->host->drafts, id, text, html);
      if (rc == THREADMILL_OK && out && cap > 0) std::snprintf(out, cap, "draft-1");
      return rc;
    };
    api.kv_get = [](threadmill_ctx* c, const char* key, const void** value, size_t* len) {
      HostDouble* h = c->host;
      h->kv_gets++;
      if (h->kv_status != THREADMILL_OK) return h->kv_status;
      auto it = h->kv.find(key);
      if (it == h->kv.end()) return static_cast<int>(THREADMILL_NOT_FOUND);
      h->kv_scratch = it->second;
      *value = h->kv_scratch.data();
      *len = h->kv_scratch.size();
      return static_cast<int>(THREADMILL_OK);
    };
    api.kv_put = [](threadmill_ctx* c, const char* key, const void* value, size_t len) {
      HostDouble* h = c->host;
      if (h->kv_status != THREADMILL_OK) return h->kv_status;
      h->kv[key] = std::string(static_cast<const char*>(value), len);
      return static_cast<int>(THREADMILL_OK);
    };
    api.kv_delete = [](threadmill_ctx* c, const char* key) {
      HostDouble* h = c->host;
      if (h->kv_status != THREADMILL_OK) return h->kv_status;
      return static_cast<int>(h->kv.erase(key) ? THREADMILL_OK : THREADMILL_NOT_FOUND);
    };
    api.kv_list = [](threadmill_ctx* c, const char* prefix, size_t limit, int values,
                     const threadmill_kv_item** items, size_t* count) {
      HostDouble* h = c->host;
      if (h->kv_status != THREADMILL_OK) return h->kv_status;
      h->kv_items.clear();
      std::string p = prefix ? prefix : "";
      for (const auto& [key, value] : h->kv) {
        if (key.compare(0, p.size(), p) != 0 || h->kv_items.size() >= limit) continue;
        h->kv_items.push_back(
            {key.c_str(), values ? value.data() : nullptr, values ? value.size() : 0});
      }
      *items = h->kv_items.data();
      *count = h->kv_items.size();
      return static_cast<int>(THREADMILL_OK);
    };
    api.log = [](threadmill_ctx* c, int level, const char* message) {
      c->host->logs.push_back({level, message ? message : "(null)"});
    };
    api.last_error = [](threadmill_ctx* c) { return c->host->last_error.c_str(); };
    api.attachment_read = [](threadmill_ctx* c, const char* id, const void** data, size_t* len) {
      auto it = c->host->attachments.find(id ? id : "");
      if (it == c->host->attachments.end()) return static_cast<int>(THREADMILL_NOT_FOUND);
      *data = it->second.data();
      *len = it->second.size();
      return static_cast<int>(THREADMILL_OK);
    };
    api.raw_message = [](threadmill_ctx* c, const void** data, size_t* len) {
      if (c->host->raw.empty()) return static_cast<int>(THREADMILL_NOT_FOUND);
      *data = c->host->raw.data();
      *len = c->host->raw.size();
      return static_cast<int>(THREADMILL_OK);
    };
    // ABI 1.1 host->thread: the one thread of `thread_messages` ("thread-1"); others unknown.
    api.thread = [](threadmill_ctx* c, const char* id, const threadmill_thread** out) {
      HostDouble* h = c->host;
      if (id && std::string(id) != "thread-1") return static_cast<int>(THREADMILL_NOT_FOUND);
      h->thread_ptrs.clear();
      for (const auto& m : h->thread_messages) h->thread_ptrs.push_back(&m);
      h->thread_info = {sizeof(threadmill_thread),
                        "thread-1",
                        "Hello",
                        "",
                        100,
                        200,
                        nullptr,
                        0,
                        h->thread_ptrs.data(),
                        h->thread_ptrs.size(),
                        h->thread_ptrs.size()};
      *out = &h->thread_info;
      return static_cast<int>(THREADMILL_OK);
    };
    api.config_get = [](threadmill_ctx* c, const char* key) -> const char* {
      auto it = c->host->config.find(key ? key : "");
      return it == c->host->config.end() ? nullptr : it->second.c_str();
    };
    api.state = [](threadmill_ctx* c) { return c->host->state; };
  }
  HostDouble(const HostDouble&) = delete;
  HostDouble& operator=(const HostDouble&) = delete;

  // Makes reply/draft return `status` with last_error() = reason.
  void RefuseReplies(int status, const std::string& reason) {
    reply_status = status;
    refuse_reason = reason;
  }

  bool Logged(const std::string& needle) const {
    for (const auto& line : logs) {
      if (line.message.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::string AllLogs() const {
    std::string out;
    for (const auto& line : logs) out += std::to_string(line.level) + " " + line.message + "\n";
    return out;
  }

  threadmill_host_api api;
  threadmill_ctx ctx;
  void* state = nullptr;
  std::vector<ReplyCall> replies;
  std::vector<ReplyCall> drafts;
  std::map<std::string, std::string> kv;
  std::vector<LogLine> logs;
  int kv_status = THREADMILL_OK;  // set to make every kv call fail with it
  int kv_gets = 0;
  int send_calls = 0;
  bool accept_sends = false;  // false: send is refused; true: recorded, thread "thread-N"
  std::vector<SendCall> sends;
  std::vector<threadmill_kv_item> kv_items;                // kv_list's answer
  std::map<std::string, std::string> config;               // config_get
  std::map<std::string, std::string> attachments;          // attachment_read by file_id
  std::string raw;                                         // raw_message ("" = not found)
  std::vector<threadmill_thread_message> thread_messages;  // thread("thread-1")
  std::vector<const threadmill_thread_message*> thread_ptrs;
  threadmill_thread thread_info{};
  // handler.hpp offers thread() only on a 1.1 host, one whose table has reply_ex and send_ex:
  // these fill them with calls that always fail (the double records only reply and send).
  void OfferAbi11Slots() {
    api.reply_ex = [](threadmill_ctx*, const char*, const threadmill_message_options*, char*,
                      size_t) { return static_cast<int>(THREADMILL_INVALID); };
    api.send_ex = [](threadmill_ctx*, const char* const*, size_t,
                     const threadmill_message_options*, char*, size_t, char*,
                     size_t) { return static_cast<int>(THREADMILL_INVALID); };
  }

  int reply_status = THREADMILL_OK;
  std::string refuse_reason;
  std::string last_error;

 private:
  int Reply(std::vector<ReplyCall>* calls, const char* id, const char* text, const char* html) {
    if (!id || !text) {
      last_error = "null argument";
      return THREADMILL_INVALID;
    }
    if (reply_status != THREADMILL_OK) {
      last_error = refuse_reason;
      return reply_status;
    }
    calls->push_back({id, text, html ? html : "", html != nullptr});
    return THREADMILL_OK;
  }
  std::string kv_scratch;
};

// A handler module loaded with dlopen, called through its entry symbol only.
class Module {
 public:
  explicit Module(const char* path) {
    handle_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      ADD_FAILURE() << "dlopen " << path << ": " << dlerror();
      return;
    }
    auto entry =
        reinterpret_cast<threadmill_handler_entry_fn>(dlsym(handle_, THREADMILL_HANDLER_ENTRY));
    if (!entry) {
      ADD_FAILURE() << "no symbol " << THREADMILL_HANDLER_ENTRY << " in " << path;
      return;
    }
    table_ = entry();
  }
  ~Module() {
    if (table_ && table_->fini && host_) table_->fini(host_->state);
    if (handle_) dlclose(handle_);
  }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const threadmill_handler* table() const { return table_; }

  // init with `config_json`; the state goes into host->state.
  int Init(HostDouble* host, const std::string& config_json) {
    host_ = host;
    host->state = nullptr;
    if (!table_) return -1;
    return table_->init(&host->ctx, &host->api, config_json.c_str(), &host->state);
  }

  int OnInbound(const threadmill_envelope& envelope) {
    if (!table_ || !host_) return -1;
    return table_->on_inbound(&host_->ctx, &envelope);
  }

  int OnHeartbeat() {
    if (!table_ || !host_ || !table_->on_heartbeat) return -1;
    return table_->on_heartbeat(&host_->ctx);
  }

 private:
  void* handle_ = nullptr;
  const threadmill_handler* table_ = nullptr;
  HostDouble* host_ = nullptr;
};

// Owns the strings of one test envelope; envelope() points into them.
struct EnvelopeData {
  std::string channel = "email";
  std::string channel_thread_id = "thread-1";
  std::string channel_message_id = "<m1@example.org>";
  std::string sender_address = "alice@example.org";
  std::string sender_name = "Alice Example";
  std::string from_address = "alice@example.org";
  std::string user_id = "bob@example.net";
  std::string subject = "Lunch on Friday?";
  std::string message_text = "Hi Bob,\nlunch on Friday?\n> old quote\n";
  std::string reply_text = "Hi Bob,\nlunch on Friday?";
  std::string dmarc = "pass";
  std::string spf = "pass";
  std::string dkim = "pass";
  uint32_t references_count = 0;
  uint32_t flags = 0;
  std::string no_reply_reason;
  std::string queue_id = "4XyZ1234";
  int64_t received_time = 1700000000;
  std::string thread_owner;
  std::string parent_message_id;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"From", "Alice Example <alice@example.org>"},
      {"To", "Bob <bob@example.net>"},
      {"Subject", "Lunch on Friday?"}};
  struct Attachment {
    std::string file_id, filename, content_type;
    uint64_t size;
  };
  std::vector<Attachment> attachments;
  std::string job_id = "job-42";
  uint32_t attempt = 1;

  const threadmill_envelope& envelope() {
    att_.clear();
    for (const auto& a : attachments) {
      att_.push_back({sizeof(threadmill_attachment), a.file_id.c_str(), a.filename.c_str(),
                      a.content_type.c_str(), a.size});
    }
    hdr_.clear();
    for (const auto& [name, value] : headers) hdr_.push_back({name.c_str(), value.c_str()});
    env_ = {};
    env_.struct_size = sizeof env_;
    env_.channel = channel.c_str();
    env_.channel_thread_id = channel_thread_id.c_str();
    env_.channel_message_id = channel_message_id.c_str();
    env_.sender_address = sender_address.c_str();
    env_.sender_name = sender_name.c_str();
    env_.from_address = from_address.c_str();
    env_.user_id = user_id.c_str();
    env_.subject = subject.c_str();
    env_.message_text = message_text.c_str();
    env_.reply_text = reply_text.c_str();
    env_.attachments = att_.empty() ? nullptr : att_.data();
    env_.attachment_count = att_.size();
    env_.dmarc = dmarc.c_str();
    env_.spf = spf.c_str();
    env_.dkim = dkim.c_str();
    env_.references_count = references_count;
    env_.flags = flags;
    env_.no_reply_reason = no_reply_reason.c_str();
    env_.queue_id = queue_id.c_str();
    env_.received_time = received_time;
    env_.thread_owner = thread_owner.c_str();
    env_.headers = hdr_.empty() ? nullptr : hdr_.data();
    env_.header_count = hdr_.size();
    env_.job_id = job_id.c_str();
    env_.attempt = attempt;
    env_.parent_message_id = parent_message_id.c_str();
    return env_;
  }

 private:
  std::vector<threadmill_attachment> att_;
  std::vector<threadmill_header> hdr_;
  threadmill_envelope env_ = {};
};

}  // namespace threadmill::test
