#include "runtime/host.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "common/ascii.h"
#include "log/logger.h"
#include "mail/address.h"
#include "mail/auto_response.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/msgid.h"
#include "mail/reply_text.h"
#include "store/thread_store.h"

namespace threadmill::runtime {
namespace {

int StatusOf(const Error& e) {
  switch (e.code) {
    case ErrorCode::kRefused:
      return THREADMILL_REFUSED;
    case ErrorCode::kInvalidInput:
      return THREADMILL_INVALID;
    case ErrorCode::kNotFound:
      return THREADMILL_NOT_FOUND;
    case ErrorCode::kStore:
    case ErrorCode::kTemporary:
    case ErrorCode::kPermission:
      return THREADMILL_STORE;
    case ErrorCode::kInternal:
      break;
  }
  return THREADMILL_INTERNAL;
}

int Fail(threadmill_ctx* ctx, int status, std::string reason) {
  if (ctx) ctx->last_error = std::move(reason);
  return status;
}

int FailWith(threadmill_ctx* ctx, const Error& e) { return Fail(ctx, StatusOf(e), e.message); }

const std::string& HandlerName(const threadmill_ctx* ctx) {
  static const std::string kNone;
  return ctx && ctx->module ? ctx->module->name() : kNone;
}

// Runs fn and turns any exception into THREADMILL_INTERNAL.
template <typename Fn>
int Guard(threadmill_ctx* ctx, Fn&& fn) noexcept {
  if (!ctx || !ctx->services) return THREADMILL_INVALID;
  try {
    ctx->last_error.clear();
    return fn();
  } catch (const std::exception& e) {
    try {
      log::Get().error("handler={} host function failed: {}", HandlerName(ctx), e.what());
    } catch (...) {
    }
    return Fail(ctx, THREADMILL_INTERNAL, "internal");
  } catch (...) {
    return Fail(ctx, THREADMILL_INTERNAL, "internal");
  }
}

bool ValidText(const char* s) { return s && mail::IsValidUtf8(s); }

// init runs in every worker process again: calls with effects outside the store (mail) or
// on a current message are refused there (handler.h "Calling rules").
bool RefusedInInit(threadmill_ctx* ctx) {
  if (!ctx->in_init) return false;
  Fail(ctx, THREADMILL_INVALID, "not-allowed-in-init");
  return true;
}

std::string Bracketed(const std::string& id) { return id.empty() ? "" : "<" + id + ">"; }

// The job's message, when `message_id` names it (with or without <>).
bool IsCurrentMessage(const threadmill_ctx* ctx, const char* message_id) {
  if (!ctx->job || !ctx->message || !message_id) return false;
  std::string id = mail::ParseMsgId(message_id).id;
  if (id.empty()) id = message_id;
  if (ctx->message->facts().message_id.empty()) return false;
  // The envelope's own (UTF-8-repaired) channel_message_id names it too.
  return id == ctx->message->facts().message_id ||
         std::string_view(message_id) == ctx->message->envelope()->channel_message_id;
}

reply::Caller CallerOf(const threadmill_ctx* ctx) {
  reply::Caller c;
  c.handler = HandlerName(ctx);
  if (ctx->job) {
    c.job_id = ctx->job->id;
    c.queue_id = ctx->job->queue_id;
  } else {
    c.job_id = ctx->task_id;
  }
  return c;
}

int WriteOut(threadmill_ctx* ctx, const std::string& value, char* out, size_t cap) {
  if (!out || cap <= value.size()) {
    return Fail(ctx, THREADMILL_INVALID,
                "buffer too small (need " + std::to_string(value.size() + 1) + ")");
  }
  std::memcpy(out, value.c_str(), value.size() + 1);
  return THREADMILL_OK;
}

// The reply path shared by reply and reply_ex: checks, sends, writes the Message-ID (when
// `out` is not null).
int DoReply(threadmill_ctx* ctx, const char* message_id, reply::ReplyContent content, char* out,
            size_t cap) {
  if (RefusedInInit(ctx)) return THREADMILL_INVALID;
  if (!IsCurrentMessage(ctx, message_id)) {
    return Fail(ctx, THREADMILL_INVALID, "unknown-message-id");
  }
  content.from_name = ctx->services->config->handler(HandlerName(ctx)).from_name;
  auto sent = ctx->services->replier->Reply(ctx->message->facts(), CallerOf(ctx), content);
  if (!sent.ok()) {
    if (sent.error().message == "reply-uncertain") ctx->park_reason = "reply-uncertain";
    return FailWith(ctx, sent.error());
  }
  // The reply is sent: a too small buffer is the handler's loss, not a failed reply.
  if (out && WriteOut(ctx, Bracketed(*sent), out, cap) != THREADMILL_OK) {
    return THREADMILL_INVALID;
  }
  return static_cast<int>(THREADMILL_OK);
}

int HostReply(threadmill_ctx* ctx, const char* message_id, const char* text, const char* html) {
  return Guard(ctx, [&] {
    if (!ValidText(text) || (html && !mail::IsValidUtf8(html))) {
      return Fail(ctx, THREADMILL_INVALID, "text must be UTF-8");
    }
    reply::ReplyContent content;
    content.text = text;
    content.html = html ? html : "";
    return DoReply(ctx, message_id, std::move(content), nullptr, 0);
  });
}

// Copies the members of `o` its struct_size covers into `content` (and cc into `cc`).
// THREADMILL_OK or THREADMILL_INVALID with the reason set.
int ReadOptions(threadmill_ctx* ctx, const threadmill_message_options* o,
                reply::ReplyContent* content, std::vector<std::string>* cc) {
  if (!o) return Fail(ctx, THREADMILL_INVALID, "NULL options");
  const size_t size = o->struct_size;
  auto has = [size](size_t offset, size_t width) { return size >= offset + width; };
#define TM_HAS(member) \
  has(offsetof(threadmill_message_options, member), sizeof(threadmill_message_options::member))
  if (!TM_HAS(text)) return Fail(ctx, THREADMILL_INVALID, "options: struct_size too small");
  const char* subject = TM_HAS(subject) ? o->subject : nullptr;
  const char* html = TM_HAS(html) ? o->html : nullptr;
  if (!ValidText(o->text) || (html && !mail::IsValidUtf8(html)) ||
      (subject && !mail::IsValidUtf8(subject))) {
    return Fail(ctx, THREADMILL_INVALID, "text, html and subject must be UTF-8");
  }
  content->text = o->text;
  content->html = html ? html : "";
  content->subject = subject ? subject : "";
  if (TM_HAS(cc_count) && o->cc_count > 0) {
    if (!o->cc) return Fail(ctx, THREADMILL_INVALID, "NULL cc");
    for (size_t i = 0; i < o->cc_count; ++i) {
      if (!o->cc[i]) return Fail(ctx, THREADMILL_INVALID, "NULL cc");
      cc->emplace_back(o->cc[i]);
    }
  }
  if (TM_HAS(attachment_count) && o->attachment_count > 0) {
    if (!o->attachments) return Fail(ctx, THREADMILL_INVALID, "NULL attachments");
    for (size_t i = 0; i < o->attachment_count; ++i) {
      const threadmill_outgoing_attachment& a = o->attachments[i];
      if (!a.data && a.size) return Fail(ctx, THREADMILL_INVALID, "attachment without data");
      if (a.filename && (!mail::IsValidUtf8(a.filename) || std::strlen(a.filename) > 255)) {
        return Fail(ctx, THREADMILL_INVALID, "attachment filename (UTF-8, at most 255 bytes)");
      }
      if (a.content_type && !reply::CheckContentType(a.content_type)) {
        return Fail(ctx, THREADMILL_INVALID, "attachment content_type (type/subtype)");
      }
      content->attachments.push_back(
          {a.filename ? a.filename : "", a.content_type ? a.content_type : "",
           a.size ? std::string(static_cast<const char*>(a.data), a.size) : std::string()});
    }
  }
  if (TM_HAS(header_count) && o->header_count > 0) {
    if (!o->headers) return Fail(ctx, THREADMILL_INVALID, "NULL headers");
    for (size_t i = 0; i < o->header_count; ++i) {
      const threadmill_header& h = o->headers[i];
      if (!h.name || !h.value) return Fail(ctx, THREADMILL_INVALID, "NULL header");
      if (!mail::IsValidUtf8(h.value)) return Fail(ctx, THREADMILL_INVALID, "header-value");
      std::string why = reply::CheckExtraHeader(h.name, h.value);
      if (!why.empty()) return Fail(ctx, THREADMILL_INVALID, why);
      content->extra_headers.push_back({h.name, h.value});
    }
  }
#undef TM_HAS
  return THREADMILL_OK;
}

int HostReplyEx(threadmill_ctx* ctx, const char* message_id,
                const threadmill_message_options* options, char* message_id_out, size_t cap) {
  return Guard(ctx, [&] {
    if (RefusedInInit(ctx)) return static_cast<int>(THREADMILL_INVALID);
    reply::ReplyContent content;
    std::vector<std::string> cc;
    if (int rc = ReadOptions(ctx, options, &content, &cc); rc != THREADMILL_OK) return rc;
    if (!cc.empty()) return Fail(ctx, THREADMILL_INVALID, "cc-not-allowed");
    return DoReply(ctx, message_id, std::move(content), message_id_out, cap);
  });
}

// The send path shared by send and send_ex.
int DoSend(threadmill_ctx* ctx, const char* const* to, size_t to_count, reply::SendRequest request,
           char* thread_id_out, size_t thread_cap, char* message_id_out, size_t message_cap,
           bool thread_out_required) {
  if (RefusedInInit(ctx)) return THREADMILL_INVALID;
  if (!to || to_count == 0) return Fail(ctx, THREADMILL_INVALID, "to is required");
  for (size_t i = 0; i < to_count; ++i) {
    if (!to[i]) return Fail(ctx, THREADMILL_INVALID, "NULL recipient");
    request.to.emplace_back(to[i]);
  }
  const HandlerSettings& settings = ctx->services->config->handler(HandlerName(ctx));
  request.from_address = settings.from;
  if (request.from_address.empty() && ctx->job) request.from_address = ctx->job->recipient;
  request.content.from_name = settings.from_name;
  reply::SendLimits limits{settings.sends_per_hour, settings.sends_per_job};
  auto sent = ctx->services->replier->Send(CallerOf(ctx), request, ctx->send_index++, limits);
  if (!sent.ok()) {
    if (sent.error().message == "reply-uncertain") ctx->park_reason = "send-uncertain";
    return FailWith(ctx, sent.error());
  }
  int rc = THREADMILL_OK;
  if (thread_id_out || thread_out_required) {
    rc = WriteOut(ctx, sent->thread_id, thread_id_out, thread_cap);
  }
  if (message_id_out && rc == THREADMILL_OK) {
    rc = WriteOut(ctx, Bracketed(sent->message_id), message_id_out, message_cap);
  }
  return rc;
}

int HostSend(threadmill_ctx* ctx, const char* const* to, size_t to_count, const char* subject,
             const char* text, char* thread_id_out, size_t cap) {
  return Guard(ctx, [&] {
    if (!to || to_count == 0 || !ValidText(subject) || !ValidText(text)) {
      return Fail(ctx, THREADMILL_INVALID, "to, subject and text are required (UTF-8)");
    }
    reply::SendRequest request;
    request.subject = subject;
    request.content.text = text;
    return DoSend(ctx, to, to_count, std::move(request), thread_id_out, cap, nullptr, 0, true);
  });
}

int HostSendEx(threadmill_ctx* ctx, const char* const* to, size_t to_count,
               const threadmill_message_options* options, char* thread_id_out, size_t thread_id_cap,
               char* message_id_out, size_t message_id_cap) {
  return Guard(ctx, [&] {
    if (RefusedInInit(ctx)) return static_cast<int>(THREADMILL_INVALID);
    reply::SendRequest request;
    if (int rc = ReadOptions(ctx, options, &request.content, &request.cc); rc != THREADMILL_OK) {
      return rc;
    }
    if (request.content.subject.empty()) {
      return Fail(ctx, THREADMILL_INVALID, "subject is required");
    }
    request.subject = request.content.subject;
    return DoSend(ctx, to, to_count, std::move(request), thread_id_out, thread_id_cap,
                  message_id_out, message_id_cap, false);
  });
}

// The first `max` bytes of UTF-8 `text`, not cutting a character.
std::string CutUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

int HostDraft(threadmill_ctx* ctx, const char* message_id, const char* text, const char* html,
              char* draft_id_out, size_t cap) {
  return Guard(ctx, [&] {
    if (RefusedInInit(ctx)) return static_cast<int>(THREADMILL_INVALID);
    if (!ValidText(text) || (html && !mail::IsValidUtf8(html))) {
      return Fail(ctx, THREADMILL_INVALID, "text must be UTF-8");
    }
    if (!IsCurrentMessage(ctx, message_id)) {
      return Fail(ctx, THREADMILL_INVALID, "unknown-message-id");
    }
    const reply::InboundFacts& facts = ctx->message->facts();
    std::string reason = reply::CheckReplyRules(facts, ctx->services->config->reply);
    if (!reason.empty()) {
      log::Get().info("draft job={} handler={} decision=refused reason={}", ctx->job->id,
                      HandlerName(ctx), reason);
      return Fail(ctx, THREADMILL_REFUSED, reason);
    }
    Draft d;
    d.handler = HandlerName(ctx);
    d.job_id = ctx->job->id;
    d.queue_id = ctx->job->queue_id;
    d.facts = facts;
    d.content = {text, html ? html : "",
                 ctx->services->config->handler(HandlerName(ctx)).from_name};
    const mail::ParsedMessage& parsed = ctx->message->parsed();
    if (const mail::HeaderField* from = parsed.headers.Find("From")) d.inbound_from = from->value;
    d.inbound_spf = ctx->job->spf;
    d.inbound_dkim = ctx->job->dkim;
    d.inbound_text = CutUtf8(parsed.text, DraftStore::kMaxInboundTextBytes);
    d.inbound_text_from_html = parsed.text_from_html;
    auto id = ctx->services->drafts->Create(std::move(d));
    if (!id.ok()) return FailWith(ctx, id.error());
    log::Get().info("draft job={} handler={} draft={} decision=stored", ctx->job->id,
                    HandlerName(ctx), *id);
    return WriteOut(ctx, *id, draft_id_out, cap);
  });
}

int HostKvGet(threadmill_ctx* ctx, const char* key, const void** value, size_t* value_len) {
  return Guard(ctx, [&] {
    if (!key || !value || !value_len) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    auto got = ctx->services->kv->Get(HandlerName(ctx), key);
    if (!got.ok()) return FailWith(ctx, got.error());
    if (!got->has_value()) return Fail(ctx, THREADMILL_NOT_FOUND, "not-found");
    ctx->kv_value = std::move(**got);
    *value = ctx->kv_value.data();
    *value_len = ctx->kv_value.size();
    return static_cast<int>(THREADMILL_OK);
  });
}

static_assert(store::kMaxKvKeyBytes == THREADMILL_KV_MAX_KEY_BYTES);
static_assert(store::kMaxKvValueBytes == THREADMILL_KV_MAX_VALUE_BYTES);
static_assert(store::kMaxKvListLimit == THREADMILL_KV_MAX_LIST_ITEMS);

int HostKvPutTtl(threadmill_ctx* ctx, const char* key, const void* value, size_t value_len,
                 uint64_t ttl_seconds) {
  return Guard(ctx, [&] {
    if (!key || (!value && value_len)) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    std::string_view v(static_cast<const char*>(value), value ? value_len : 0);
    Status st = ctx->services->kv->Put(HandlerName(ctx), key, v, ttl_seconds);
    if (!st.ok()) return FailWith(ctx, st.error());
    return static_cast<int>(THREADMILL_OK);
  });
}

int HostKvPut(threadmill_ctx* ctx, const char* key, const void* value, size_t value_len) {
  return HostKvPutTtl(ctx, key, value, value_len, 0);
}

int HostKvDelete(threadmill_ctx* ctx, const char* key) {
  return Guard(ctx, [&] {
    if (!key) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    auto st = ctx->services->kv->Delete(HandlerName(ctx), key);
    if (!st.ok()) return FailWith(ctx, st.error());
    if (!*st) return Fail(ctx, THREADMILL_NOT_FOUND, "not-found");
    return static_cast<int>(THREADMILL_OK);
  });
}

int HostKvListAfter(threadmill_ctx* ctx, const char* prefix, const char* start_after, size_t limit,
                    int include_values, const threadmill_kv_item** items, size_t* count) {
  return Guard(ctx, [&] {
    if (!items || !count) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    auto got = ctx->services->kv->List(HandlerName(ctx), prefix ? prefix : "", limit,
                                       include_values != 0, start_after ? start_after : "");
    if (!got.ok()) return FailWith(ctx, got.error());
    ctx->kv_entries = std::move(*got);
    ctx->kv_items.clear();
    for (const auto& e : ctx->kv_entries) {
      ctx->kv_items.push_back({e.key.c_str(), include_values ? e.value.data() : nullptr,
                               include_values ? e.value.size() : 0});
    }
    *items = ctx->kv_items.data();
    *count = ctx->kv_items.size();
    return static_cast<int>(THREADMILL_OK);
  });
}

int HostKvList(threadmill_ctx* ctx, const char* prefix, size_t limit, int include_values,
               const threadmill_kv_item** items, size_t* count) {
  return HostKvListAfter(ctx, prefix, nullptr, limit, include_values, items, count);
}

void HostLog(threadmill_ctx* ctx, int level, const char* message) {
  try {
    std::string job = ctx && ctx->job ? ctx->job->id : ctx ? ctx->task_id : "";
    std::string text = message ? message : "";
    for (char& c : text) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    auto& logger = log::Get();
    switch (level) {
      case THREADMILL_LOG_DEBUG:
        logger.debug("handler={} job={}: {}", HandlerName(ctx), job, text);
        break;
      case THREADMILL_LOG_WARN:
        logger.warn("handler={} job={}: {}", HandlerName(ctx), job, text);
        break;
      case THREADMILL_LOG_ERROR:
        logger.error("handler={} job={}: {}", HandlerName(ctx), job, text);
        break;
      default:
        logger.info("handler={} job={}: {}", HandlerName(ctx), job, text);
        break;
    }
  } catch (...) {
  }
}

const char* HostLastError(threadmill_ctx* ctx) { return ctx ? ctx->last_error.c_str() : ""; }

int HostAttachmentRead(threadmill_ctx* ctx, const char* file_id, const void** data, size_t* len) {
  return Guard(ctx, [&] {
    if (RefusedInInit(ctx)) return static_cast<int>(THREADMILL_INVALID);
    if (!file_id || !data || !len) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    if (!ctx->message) return Fail(ctx, THREADMILL_INVALID, "no current message");
    auto got = mail::ExtractAttachment(ctx->message->raw(), file_id);
    if (!got.ok()) return FailWith(ctx, got.error());
    ctx->attachment = std::move(*got);
    *data = ctx->attachment.data();
    *len = ctx->attachment.size();
    return static_cast<int>(THREADMILL_OK);
  });
}

int HostRawMessage(threadmill_ctx* ctx, const void** data, size_t* len) {
  return Guard(ctx, [&] {
    if (RefusedInInit(ctx)) return static_cast<int>(THREADMILL_INVALID);
    if (!data || !len) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    if (!ctx->message) return Fail(ctx, THREADMILL_INVALID, "no current message");
    *data = ctx->message->raw().data();
    *len = ctx->message->raw().size();
    return static_cast<int>(THREADMILL_OK);
  });
}

const char* HostConfigGet(threadmill_ctx* ctx, const char* key) {
  try {
    if (!ctx || !ctx->services || !key) return nullptr;
    const HandlerSettings& s = ctx->services->config->handler(HandlerName(ctx));
    auto it = s.values.find(key);
    return it == s.values.end() ? nullptr : it->second.c_str();
  } catch (...) {
    return nullptr;
  }
}

void* HostState(threadmill_ctx* ctx) { return ctx ? ctx->state : nullptr; }

std::string Utf8(std::string s) { return mail::IsValidUtf8(s) ? s : mail::SanitizeUtf8(s); }

int HostThread(threadmill_ctx* ctx, const char* thread_id, const threadmill_thread** out) {
  return Guard(ctx, [&] {
    if (!out) return Fail(ctx, THREADMILL_INVALID, "NULL argument");
    std::string id;
    if (thread_id) {
      id = thread_id;
    } else if (ctx->job) {
      id = ctx->job->thread_id;
    } else {
      return Fail(ctx, THREADMILL_INVALID, "no current message");
    }
    if (id.empty() || id.size() > store::kMaxThreadIdBytes) {
      return Fail(ctx, THREADMILL_NOT_FOUND, "not-found");
    }
    store::ThreadStore threads(ctx->services->env);
    auto found = threads.FindThread(id);
    if (!found.ok()) return FailWith(ctx, found.error());
    bool current = ctx->job && ctx->job->thread_id == id;
    // Another handler's (or nobody's) thread is not this handler's to read: as unknown.
    if (!found->has_value() || (!current && (*found)->owner != HandlerName(ctx))) {
      return Fail(ctx, THREADMILL_NOT_FOUND, "not-found");
    }
    const int64_t max = ctx->services->config->thread_messages_max;
    auto messages = threads.ThreadMessages(id, static_cast<size_t>(max));
    if (!messages.ok()) return FailWith(ctx, messages.error());
    if (static_cast<int64_t>((*found)->message_count) > max) {
      log::Get().warn(
          "handler={} thread {} has {} messages; host->thread returned the first {} "
          "([handlers] thread_messages_max)",
          HandlerName(ctx), id, (*found)->message_count, max);
    }
    auto view = std::make_unique<ThreadView>();
    view->record = std::move(**found);
    view->record.subject = Utf8(view->record.subject);
    for (auto& p : view->record.participants) p = Utf8(p);
    view->messages = std::move(*messages);
    for (auto& m : view->messages) {
      m.msgid = Utf8(Bracketed(m.msgid));
      m.parent = Utf8(Bracketed(m.parent));
      m.from = Utf8(m.from);
      m.subject = Utf8(m.subject);
    }
    for (const auto& p : view->record.participants) view->participants.push_back(p.c_str());
    view->items.reserve(view->messages.size());
    for (const auto& m : view->messages) {
      threadmill_thread_message item{};
      item.struct_size = sizeof(threadmill_thread_message);
      item.direction = m.direction == store::Direction::kOutbound ? THREADMILL_DIR_OUTBOUND
                                                                  : THREADMILL_DIR_INBOUND;
      item.time = m.time;
      item.message_id = m.msgid.c_str();
      item.from = m.from.c_str();
      item.subject = m.subject.c_str();
      item.in_reply_to = m.parent.c_str();
      view->items.push_back(item);
    }
    for (const auto& item : view->items) view->pointers.push_back(&item);
    threadmill_thread& t = view->thread;
    t.struct_size = sizeof(threadmill_thread);
    t.thread_id = view->record.thread_id.c_str();
    t.subject = view->record.subject.c_str();
    t.owner = view->record.owner.c_str();
    t.created = view->record.created;
    t.updated = view->record.updated;
    t.participants = view->participants.empty() ? nullptr : view->participants.data();
    t.participant_count = view->participants.size();
    t.messages = view->pointers.empty() ? nullptr : view->pointers.data();
    t.message_count = view->pointers.size();
    t.message_total = std::max<uint64_t>(view->record.message_count, view->pointers.size());
    ctx->thread_view = std::move(view);
    *out = &ctx->thread_view->thread;
    return static_cast<int>(THREADMILL_OK);
  });
}

const threadmill_host_api kHostApi = {
    sizeof(threadmill_host_api),
    THREADMILL_ABI_MAJOR,
    THREADMILL_ABI_MINOR,
    HostReply,
    HostSend,
    HostDraft,
    HostKvGet,
    HostKvPut,
    HostKvDelete,
    HostKvList,
    HostLog,
    HostLastError,
    HostAttachmentRead,
    HostRawMessage,
    HostConfigGet,
    HostState,
    // ABI 1.1
    HostReplyEx,
    HostSendEx,
    HostThread,
    /* ABI 1.1: KV and drafts */
    HostKvListAfter,
    HostKvPutTtl,
};

}  // namespace

const threadmill_host_api* HostApi() { return &kHostApi; }

std::unique_ptr<HostServices> HostServices::Create(std::shared_ptr<store::Environment> env,
                                                   std::shared_ptr<const RuntimeConfig> config,
                                                   std::function<void(int64_t)> busy) {
  auto s = std::make_unique<HostServices>();
  s->env = env;
  s->config = config;
  reply::Hooks hooks;
  hooks.busy = std::move(busy);
  s->replier = std::make_unique<reply::Replier>(env, config->reply, std::move(hooks));
  s->kv = std::make_unique<store::KvStore>(env);
  s->drafts = std::make_unique<DraftStore>(env);
  return s;
}

InboundMessage::InboundMessage(const Job& job, std::string raw, const reply::Replier* replier)
    : job_(job), raw_(std::move(raw)) {
  parsed_ = mail::ParseMessage(raw_);
  {
    // The envelope's sender is the author DMARC evaluated: the same parser over every From
    // field (mail::ParseAuthor), so a DMARC pass always speaks of this address.
    std::vector<std::string_view> from;
    for (const mail::HeaderField* f : parsed_.headers.FindAll("From")) from.push_back(f->value);
    parsed_.from = mail::ParseAuthor(from).mailbox();
  }
  reply::FactsFromHeaders(parsed_.headers, &facts_);
  if (!job_.message_id.empty()) facts_.message_id = job_.message_id;
  facts_.references_count = std::max<size_t>(facts_.references_count, job_.references_count);
  facts_.envelope_sender = job_.mail_from;
  facts_.recipient = job_.recipient;
  facts_.thread_id = job_.thread_id;
  facts_.dmarc = job_.dmarc;
  facts_.sender_authenticated = job_.sender_authenticated;
  facts_.route = job_.route;
  facts_.dmarc_arc_override = job_.arc_override;
  if (facts_.subject.empty()) facts_.subject = parsed_.subject;

  message_id_bracketed_ = facts_.message_id.empty() ? "" : mail::FormatMsgId(facts_.message_id);
  parent_bracketed_ = job.parent_message_id.empty() ? "" : mail::FormatMsgId(job.parent_message_id);
  reply_text_ = mail::StripQuotedReply(parsed_.text);
  uint32_t flags = 0;
  if (reply::IsAutoSubmitted(facts_.auto_submitted)) flags |= THREADMILL_ENV_AUTO_SUBMITTED;
  std::string precedence = ascii::ToLower(facts_.precedence);
  if (facts_.list_headers || precedence.rfind("list", 0) == 0) flags |= THREADMILL_ENV_LIST;
  if (precedence.rfind("bulk", 0) == 0 || precedence.rfind("junk", 0) == 0) {
    flags |= THREADMILL_ENV_BULK;
  }
  if (job_.thread_known) flags |= THREADMILL_ENV_THREAD_KNOWN;
  const reply::ReplyConfig* rules = replier ? &replier->config() : nullptr;
  mail::AutoResponse robot =
      mail::ClassifyAutoResponse({&parsed_.headers, job_.mail_from, true, facts_.from_address,
                                  false, rules ? &rules->system_senders : nullptr});
  if (robot.automatic()) flags |= THREADMILL_ENV_AUTO_RESPONSE;
  if (robot.reason == "bulk") flags |= THREADMILL_ENV_BULK;
  // Every refusal known at dispatch (reply::Replier::Predict: the milter's verdict, the
  // rules with DMARC, the ledger under the handler's reply policy); without a replier, the
  // fixed rules but DMARC.
  no_reply_reason_ = replier
                         ? replier->Predict(facts_, job_.handler, job_.route, job_.no_reply_reason)
                         : reply::PredictFixed(facts_, job_.no_reply_reason, {});
  if (!no_reply_reason_.empty()) flags |= THREADMILL_ENV_NO_REPLY;

  for (const auto& a : parsed_.attachments) {
    attachments_.push_back({sizeof(threadmill_attachment), a.file_id.c_str(), a.filename.c_str(),
                            a.content_type.c_str(), static_cast<uint64_t>(a.size)});
  }
  header_values_.reserve(parsed_.headers.size());
  for (const auto& h : parsed_.headers) header_values_.push_back(mail::Unfold(h.value));
  for (size_t i = 0; i < parsed_.headers.size(); ++i) {
    headers_.push_back({parsed_.headers[i].name.c_str(), header_values_[i].c_str()});
  }

  threadmill_envelope& e = envelope_;
  e.struct_size = sizeof(threadmill_envelope);
  e.channel = channel_.c_str();
  e.channel_thread_id = job_.thread_id.c_str();
  e.channel_message_id = message_id_bracketed_.c_str();
  e.sender_address = job_.mail_from.c_str();
  e.sender_name = parsed_.from.display_name.c_str();
  e.from_address = parsed_.from.address.c_str();
  e.user_id = job_.recipient.c_str();
  e.subject = facts_.subject.c_str();
  e.message_text = parsed_.text.c_str();
  e.reply_text = reply_text_.c_str();
  e.attachments = attachments_.empty() ? nullptr : attachments_.data();
  e.attachment_count = attachments_.size();
  e.dmarc = job_.dmarc.c_str();
  e.spf = job_.spf.c_str();
  e.dkim = job_.dkim.c_str();
  e.references_count = static_cast<uint32_t>(facts_.references_count);
  e.flags = flags;
  e.no_reply_reason = no_reply_reason_.c_str();
  e.queue_id = job_.queue_id.c_str();
  e.received_time = job_.received_time;
  e.thread_owner = job_.thread_owner.c_str();
  e.headers = headers_.empty() ? nullptr : headers_.data();
  e.header_count = headers_.size();
  e.job_id = job_.id.c_str();
  e.attempt = job_.attempts;
  e.reply_allowed = no_reply_reason_.empty() ? 1 : 0;  // the prediction (issue 10)
  e.parent_message_id = parent_bracketed_.c_str();
  MakeStringsUtf8();
}

void InboundMessage::MakeStringsUtf8() {
  auto fix = [this](const char** s, bool raw_header) {
    if (*s == nullptr || mail::IsValidUtf8(*s)) return;
    utf8_copies_.push_back(raw_header ? mail::Unlabelled8bitToUtf8(*s) : mail::SanitizeUtf8(*s));
    *s = utf8_copies_.back().c_str();
  };
  threadmill_envelope& e = envelope_;
  for (const char** s :
       {&e.channel, &e.channel_thread_id, &e.channel_message_id, &e.sender_address, &e.sender_name,
        &e.from_address, &e.user_id, &e.subject, &e.message_text, &e.reply_text, &e.dmarc, &e.spf,
        &e.dkim, &e.no_reply_reason, &e.queue_id, &e.thread_owner, &e.job_id}) {
    fix(s, false);
  }
  fix(&e.parent_message_id, false);
  for (auto& a : attachments_) {
    fix(&a.file_id, false);
    fix(&a.filename, false);
    fix(&a.content_type, false);
  }
  for (auto& h : headers_) {
    fix(&h.name, true);
    fix(&h.value, true);
  }
}

}  // namespace threadmill::runtime
