/*
 * threadmill/handler.h - the C ABI between threadmill and handler modules.
 *
 * A handler is a shared object (.so) in /etc/threadmill/handlers.d/ that exports ONE symbol,
 * THREADMILL_HANDLER_ENTRY ("threadmill_handler_v1"), a function returning a pointer to a
 * static threadmill_handler table. threadmill calls the handler in a worker process (never
 * inside the milter): init once, on_inbound for each message routed to it, on_heartbeat
 * periodically when set, fini at the end. The handler talks back through the host table
 * (threadmill_host_api) it receives in init: reply, send, draft, kv_*, log, attachments.
 *
 * Versioning: ABI major changes break compatibility and threadmill refuses a module built for
 * another major. The entry symbol names the major ("threadmill_handler_v<MAJOR>"); threadmill
 * looks for the other majors' symbols too, so a module built for another major is refused as
 * "built for ABI N, this threadmill speaks 1". Minor versions only append members at the
 * END of structs; every growable struct starts with struct_size so both sides can tell which
 * members exist: read a member only when struct_size covers it (THREADMILL_HAS_MEMBER). A
 * module built for an older or newer minor of the same major loads.
 * FROZEN structs (threadmill_attachment, threadmill_header, threadmill_kv_item,
 * threadmill_outgoing_attachment) are array elements: their layout never changes within a
 * major (an array's stride is the size the module was built with); new information comes in
 * new structs.
 *
 * ABI 1.1 added reply_ex/send_ex (subject, html, cc, attachments, extra headers; the new
 * Message-ID returned), thread (a conversation's messages), send from on_heartbeat, and the
 * calling rules below.
 *
 * Calling rules (which host function may be called from which callback):
 *   init:         log, last_error, config_get, state (NULL there), kv_*, thread.
 *                 Everything else returns THREADMILL_INVALID with last_error()
 *                 "not-allowed-in-init": init runs again in every worker process (at start,
 *                 after a crash, after recycling), so mail sent there would repeat.
 *   on_inbound:   everything.
 *   on_heartbeat: everything except reply, reply_ex, draft, attachment_read and raw_message
 *                 (there is no current message: THREADMILL_INVALID). send and send_ex work.
 *   fini:         nothing (it has no ctx).
 * A ctx is valid only during the callback it was passed to; never keep it.
 *
 * Strings are NUL-terminated UTF-8. Ownership is stated on every pointer:
 *   [host]    owned by threadmill; valid for the duration of the call unless stated otherwise.
 *   [handler] owned by the handler; threadmill copies what it needs before returning.
 * Functions are not thread-safe unless stated: threadmill calls a handler from one thread.
 * Only this header's types cross the boundary: no C++ exceptions, no allocator sharing.
 *
 * Only stdint.h and stddef.h are used, so any C or C++ compiler can build a handler.
 */
#ifndef THREADMILL_HANDLER_H
#define THREADMILL_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define THREADMILL_ABI_MAJOR 1
#define THREADMILL_ABI_MINOR 1
#define THREADMILL_HANDLER_ENTRY "threadmill_handler_v1"

/* True when a struct whose struct_size is `size` has `member` (for structs another build made). */
#define THREADMILL_HAS_MEMBER(size, type, member) \
  ((size_t)(size) >= offsetof(type, member) + sizeof(((type*)0)->member))

/* Capacity enough for any id threadmill writes to an _out buffer (thread, draft, Message-ID). */
#define THREADMILL_ID_CAP 512

/* Status codes returned by host functions and handler callbacks. */
typedef enum threadmill_status {
  THREADMILL_OK = 0,
  THREADMILL_REFUSED = 1,   /* a reply rule said no; host->last_error() says which */
  THREADMILL_NOT_FOUND = 2,
  THREADMILL_INVALID = 3,   /* bad argument (NULL, too long, not UTF-8, unknown message id) */
  THREADMILL_STORE = 4,     /* store or reinjection trouble; return THREADMILL_RETRY to
                               try the job later (a reply is then resent, never doubled) */
  THREADMILL_RETRY = 5,     /* handler: run this job again later (with backoff) */
  THREADMILL_FAIL = 6,      /* handler: this job can never succeed; park it */
  THREADMILL_INTERNAL = 7
} threadmill_status;

/* Log levels for host->log. */
enum { THREADMILL_LOG_DEBUG = 0, THREADMILL_LOG_INFO = 1, THREADMILL_LOG_WARN = 2,
       THREADMILL_LOG_ERROR = 3 };

/* Envelope flags. */
enum {
  THREADMILL_ENV_AUTO_SUBMITTED = 1u << 0, /* Auto-Submitted other than "no" (RFC 3834) */
  THREADMILL_ENV_LIST = 1u << 1,           /* List-Id / List-Unsubscribe / list Precedence */
  THREADMILL_ENV_BULK = 1u << 2,           /* Precedence: bulk or junk */
  THREADMILL_ENV_THREAD_KNOWN = 1u << 3,   /* the message answers a thread in the store */
  THREADMILL_ENV_NO_REPLY = 1u << 4,       /* threadmill will refuse any reply (see reason) */
  THREADMILL_ENV_AUTO_RESPONSE = 1u << 5   /* sent by a robot: auto-responder, list, bulk, DSN,
                                              MDN, null or system sender (README "Who is never
                                              answered"; no_reply_reason names which) */
};

/* Opaque per-call context. [host] Valid only during the callback it was passed to. */
typedef struct threadmill_ctx threadmill_ctx;

/* An attachment of the inbound message. FROZEN: an element of envelope->attachments, so its
 * layout never changes in ABI 1 (struct_size is always sizeof(threadmill_attachment) of 1.0,
 * kept for compatibility; do not use it as a stride). */
typedef struct threadmill_attachment {
  uint32_t struct_size;
  const char* file_id;      /* [host] pass to host->attachment_read */
  const char* filename;     /* [host] decoded (RFC 2047/2231), "" when the part has none */
  const char* content_type; /* [host] e.g. "application/pdf" */
  uint64_t size;            /* decoded size in bytes */
} threadmill_attachment;

/* One header field. FROZEN (array element: envelope->headers, message options' headers). */
typedef struct threadmill_header {
  const char* name;  /* [host] as received */
  const char* value; /* [host] unfolded, raw (not RFC 2047-decoded) */
} threadmill_header;

/* One inbound message, normalized. [host] The struct and everything it points to are valid
 * only during the on_inbound call. */
typedef struct threadmill_envelope {
  uint32_t struct_size;
  const char* channel;            /* "email" */
  const char* channel_thread_id;  /* stable for the whole conversation */
  const char* channel_message_id; /* this message, "<id@host>": pass it to host->reply */
  const char* sender_address;     /* envelope sender (MAIL FROM), "" for the null sender */
  const char* sender_name;        /* From display name, decoded; may be "" */
  const char* from_address;       /* From header address */
  const char* user_id;            /* the local recipient this job is for */
  const char* subject;            /* decoded UTF-8 */
  const char* message_text;       /* best plain-text body, UTF-8 */
  const char* reply_text;         /* message_text without quoted history and signature */
  const threadmill_attachment* attachments; /* [host] array of attachment_count */
  size_t attachment_count;
  const char* dmarc;              /* "pass", "fail", "none", "temperror", ... */
  const char* spf;
  const char* dkim;
  uint32_t references_count;
  uint32_t flags;                 /* THREADMILL_ENV_* */
  const char* no_reply_reason;    /* why replies will be refused ("" when they are allowed) */
  const char* queue_id;           /* the MTA queue id */
  int64_t received_time;          /* unix seconds */
  const char* thread_owner;       /* handler owning the thread, "" when none */
  const threadmill_header* headers; /* [host] array of header_count, in message order */
  size_t header_count;
  const char* job_id;
  uint32_t attempt;               /* 1 on the first delivery of this job */

  /* --- reply prediction (issue 10; check struct_size before reading) ------------------- */
  /* 1 when a reply() now would pass every rule threadmill knows at dispatch (DMARC, sender
   * authentication, RFC 3834, already replied, the handler's reply policy and its rate
   * state), 0 when not: no_reply_reason then says why. Always equal to
   * !(flags & THREADMILL_ENV_NO_REPLY). reply() checks again (another job may answer first). */
  uint32_t reply_allowed;
  const char* parent_message_id;  /* the answered message of ours, "<id@host>", or "" when the
                                     thread match names none (match=token, a new thread) */
} threadmill_envelope;

/* KV limits (ABI 1.1; the same in every 1.x host). Keys are 1..THREADMILL_KV_MAX_KEY_BYTES
 * bytes, values at most THREADMILL_KV_MAX_VALUE_BYTES; beyond them kv_put* returns
 * THREADMILL_INVALID. kv_list/kv_list_after return at most THREADMILL_KV_MAX_LIST_ITEMS
 * items per call (limit 0 or larger means that maximum); page with kv_list_after. */
#define THREADMILL_KV_MAX_KEY_BYTES 4096
#define THREADMILL_KV_MAX_VALUE_BYTES 1048576
#define THREADMILL_KV_MAX_LIST_ITEMS 10000

/* What became of a draft (ABI 1.1), given to on_draft_decision. [host] valid during the call. */
typedef struct threadmill_draft_decision {
  uint32_t struct_size;
  const char* draft_id;   /* the id host->draft returned */
  const char* decision;   /* "approved", "edited+approved", "rejected" or "expired" */
  const char* note;       /* the operator's --note, "" when none */
  const char* message_id; /* "<id@host>" of the reply sent, "" when none was sent */
  const char* thread_id;  /* the conversation the draft answers, "" when unknown */
  const char* text;       /* the text as sent (after an edit) or as drafted */
  const char* decided_by; /* the unix user who decided, "" for expiry */
  int64_t decided_time;   /* unix seconds */
} threadmill_draft_decision;

/* One key of host->kv_list. [host] FROZEN (array element). */
typedef struct threadmill_kv_item {
  const char* key;
  const void* value; /* NULL unless include_values */
  size_t value_len;
} threadmill_kv_item;

/* ABI 1.1: a file attached to an outgoing message (reply_ex, send_ex). [handler] FROZEN
 * (array element). threadmill copies the bytes before the call returns. */
typedef struct threadmill_outgoing_attachment {
  const char* filename;     /* UTF-8 (RFC 2231-encoded when not ASCII); NULL or "" for none */
  const char* content_type; /* "type/subtype" without parameters; NULL: application/octet-stream */
  const void* data;         /* may be NULL when size is 0 */
  size_t size;
} threadmill_outgoing_attachment;

/* ABI 1.1: what reply_ex and send_ex send. [handler] Zero it and set struct_size
 * (threadmill_message_options o = {0}; o.struct_size = sizeof o;): threadmill reads only the
 * members struct_size covers. Everything is copied before the call returns.
 * Limits: text + html + attachments + headers at most [reply] max_message_bytes (default
 * 10 MiB; more is THREADMILL_REFUSED "too-large"). */
typedef struct threadmill_message_options {
  uint32_t struct_size;
  const char* subject; /* UTF-8. reply_ex: NULL keeps "Re: <inbound subject>"; send_ex: required */
  const char* text;    /* UTF-8, required */
  const char* html;    /* UTF-8, NULL for text only (then multipart/alternative) */
  const char* const* cc; /* send_ex only (reply_ex refuses cc: a reply goes to the sender only) */
  size_t cc_count;
  const threadmill_outgoing_attachment* attachments; /* array of attachment_count */
  size_t attachment_count;
  /* Extra header fields, written after threadmill's own. threadmill refuses (THREADMILL_INVALID,
   * last_error "header-owned:NAME") the fields it writes or that speak for transport and
   * authentication: From, To, Cc, Bcc, Sender, Subject, Date, Message-ID, In-Reply-To,
   * References, Auto-Submitted, Precedence, Return-Path, Received, Received-SPF,
   * Authentication-Results, Delivered-To, X-Original-To, MIME-*, Content-*, Resent-*, DKIM-*,
   * ARC-*; names must be printable ASCII without ':' (1..76 bytes, "header-name"), values
   * UTF-8 without control characters, at most 998 bytes ("header-value"). Non-ASCII values
   * are RFC 2047-encoded. E.g. Reply-To, List-Unsubscribe, X-Campaign. */
  const threadmill_header* headers;
  size_t header_count;
} threadmill_message_options;

/* ABI 1.1: message directions in threadmill_thread_message. */
enum { THREADMILL_DIR_INBOUND = 0, THREADMILL_DIR_OUTBOUND = 1 };

/* ABI 1.1: one message of a thread. [host] */
typedef struct threadmill_thread_message {
  uint32_t struct_size;
  int32_t direction;         /* THREADMILL_DIR_* */
  int64_t time;              /* unix seconds */
  const char* message_id;    /* "<id@host>" */
  const char* from;          /* address, "" when unknown */
  const char* subject;       /* decoded, may be "" (threadmill keeps the first 512 bytes) */
  const char* in_reply_to;   /* "<id@host>" of the message it answered in this thread, or "" */
} threadmill_thread_message;

/* ABI 1.1: a conversation, from host->thread. [host] valid until the next host->thread call
 * on this ctx or the end of the callback, whichever comes first. */
typedef struct threadmill_thread {
  uint32_t struct_size;
  const char* thread_id;
  const char* subject;  /* the thread's first subject, "" when unknown */
  const char* owner;    /* handler owning the thread, "" when none */
  int64_t created;      /* unix seconds */
  int64_t updated;
  const char* const* participants; /* addresses seen in the thread (the first 50) */
  size_t participant_count;
  /* Messages oldest first: an array of pointers (each element has its own struct_size).
   * At most the first [handlers] thread_messages_max (default 1000) stored messages;
   * message_total counts all. */
  const threadmill_thread_message* const* messages;
  size_t message_count;
  uint64_t message_total;
} threadmill_thread;

/* Host functions. [host] The table lives as long as the handler is loaded. */
typedef struct threadmill_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* Replies to an inbound message (its channel_message_id) under threadmill's reply rules:
   * DMARC pass, once per message, to the sender only, from the receiving domain, not to
   * automatic or list mail, rate limits. Only the current message (on_inbound) can be
   * answered. html may be NULL. THREADMILL_REFUSED: the reason keyword is last_error()
   * ("dmarc", "already-replied", "auto-submitted", "list", "references", "rate-sender", ...). */
  int (*reply)(threadmill_ctx* ctx, const char* message_id, const char* text, const char* html);

  /* Starts a new conversation. to: [handler] array of to_count addresses. The new thread id
   * is written NUL-terminated to thread_id_out (capacity cap, 64 is enough). From is
   * [handler.NAME] from, else the job's local recipient; with neither (a heartbeat without
   * `from`) it is THREADMILL_REFUSED "no-from-address". Works from on_inbound and
   * on_heartbeat. Auto-Submitted: auto-generated. Logged as "send ... msgid=<new id>". */
  int (*send)(threadmill_ctx* ctx, const char* const* to, size_t to_count, const char* subject,
              const char* text, char* thread_id_out, size_t cap);

  /* Stores a reply as a draft awaiting approval (threadmillctl drafts approve ID) instead of
   * sending it; the same rules apply when it is approved. The id goes to draft_id_out. */
  int (*draft)(threadmill_ctx* ctx, const char* message_id, const char* text, const char* html,
               char* draft_id_out, size_t cap);

  /* The handler's private records ("record_type:id" keys by convention). Values are bytes.
   * kv_get/kv_list results: [host] valid until the next kv_* call on this ctx. */
  int (*kv_get)(threadmill_ctx* ctx, const char* key, const void** value, size_t* value_len);
  int (*kv_put)(threadmill_ctx* ctx, const char* key, const void* value, size_t value_len);
  int (*kv_delete)(threadmill_ctx* ctx, const char* key);
  int (*kv_list)(threadmill_ctx* ctx, const char* prefix, size_t limit, int include_values,
                 const threadmill_kv_item** items, size_t* count);

  /* Writes a line to threadmill's log, prefixed with the handler name and job. */
  void (*log)(threadmill_ctx* ctx, int level, const char* message);

  /* The reason of the last failed host call on this ctx, e.g. "dmarc"; "" after a call that
   * succeeded. [host] valid until the next host call on this ctx or the end of the callback
   * (copy it to keep it); never NULL. */
  const char* (*last_error)(threadmill_ctx* ctx);

  /* Decoded bytes of an attachment of the current message. [host] valid during the call. */
  int (*attachment_read)(threadmill_ctx* ctx, const char* file_id, const void** data,
                         size_t* len);

  /* The raw message as received (headers and body). [host] valid during the call. */
  int (*raw_message)(threadmill_ctx* ctx, const void** data, size_t* len);

  /* The handler's configuration value for key ([handler.NAME] table), as a string; NULL when
   * unset. [host] valid as long as the handler is loaded. */
  const char* (*config_get)(threadmill_ctx* ctx, const char* key);

  /* The state pointer the handler returned from init. */
  void* (*state)(threadmill_ctx* ctx);

  /* ABI 1.1 (present when THREADMILL_HAS_MEMBER(host->struct_size, threadmill_host_api, x)) */

  /* reply with options: subject (NULL keeps "Re: ..."), html, attachments, extra headers;
   * cc is refused (THREADMILL_INVALID "cc-not-allowed"). Same rules and reasons as reply. The
   * reply's Message-ID ("<id@host>") is written to message_id_out (capacity cap,
   * THREADMILL_ID_CAP is enough); message_id_out may be NULL when not wanted. A buffer too
   * small is THREADMILL_INVALID "buffer too small" although the reply WAS sent (do not retry
   * it: a second reply is refused "already-replied"). on_inbound only. */
  int (*reply_ex)(threadmill_ctx* ctx, const char* message_id,
                  const threadmill_message_options* options, char* message_id_out, size_t cap);

  /* send with options: subject (required), text, html, cc, attachments, extra headers. to and
   * cc together count against [reply] max_send_recipients. Writes the new thread id and the
   * new message's Message-ID ("<id@host>"); either out buffer may be NULL when not wanted.
   * Same From, limits and reasons as send; on_inbound and on_heartbeat. */
  int (*send_ex)(threadmill_ctx* ctx, const char* const* to, size_t to_count,
                 const threadmill_message_options* options, char* thread_id_out,
                 size_t thread_id_cap, char* message_id_out, size_t message_id_cap);

  /* A conversation: thread_id names a thread this handler owns (it sent or answered in it) or
   * the current message's thread; NULL means the current message's thread (on_inbound).
   * Other threads are THREADMILL_NOT_FOUND, as unknown ones. *out: [host] valid until the
   * next thread call on this ctx or the end of the callback. */
  int (*thread)(threadmill_ctx* ctx, const char* thread_id, const threadmill_thread** out);


  /* ABI 1.1: KV and drafts */
  /* Check host->struct_size >= offsetof(threadmill_host_api, MEMBER) + sizeof(void*) before
   * calling these: a 1.0 host does not have them. */

  /* Like kv_list, but only keys greater than start_after (byte order; NULL or "" = from the
   * first key): pass the last key of the previous page to get the next one. A page shorter
   * than the limit is the last. Results as kv_list. */
  int (*kv_list_after)(threadmill_ctx* ctx, const char* prefix, const char* start_after,
                       size_t limit, int include_values, const threadmill_kv_item** items,
                       size_t* count);

  /* Like kv_put; ttl_seconds > 0: the record expires that long after the put (kv_get then
   * returns THREADMILL_NOT_FOUND, kv_list skips it, housekeeping removes it); 0: never
   * (replaces an earlier TTL). TTLs are capped at about 100 years. */
  int (*kv_put_ttl)(threadmill_ctx* ctx, const char* key, const void* value, size_t value_len,
                    uint64_t ttl_seconds);
} threadmill_host_api;

/* The module's table. [handler] static storage, valid while the module is loaded. */
typedef struct threadmill_handler {
  uint32_t struct_size; /* sizeof(threadmill_handler) as the module was built */
  uint32_t abi_major;   /* THREADMILL_ABI_MAJOR as the module was built */
  uint32_t abi_minor;
  const char* name;     /* unique handler name, [a-z0-9_-]+ ; used in routes and logs */

  /* Called once per worker process. config_json: [host] the [handler.NAME] table as JSON.
   * *state: [handler] anything; given back by host->state(ctx). Non-zero refuses loading. */
  int (*init)(threadmill_ctx* ctx, const threadmill_host_api* host, const char* config_json,
              void** state);

  /* One routed inbound message. Return THREADMILL_OK (done), THREADMILL_RETRY (try again
   * later) or THREADMILL_FAIL (park the job). */
  int (*on_inbound)(threadmill_ctx* ctx, const threadmill_envelope* envelope);

  /* Optional (NULL): called every heartbeat_seconds for batch work, in a worker like jobs,
   * never twice at once for one handler. Return THREADMILL_OK; any other value is logged as a
   * warning ("heartbeat handler=NAME decision=retry reason=heartbeat-status-N") and nothing
   * else happens: the next heartbeat comes after the next period, with no earlier retry. */
  int (*on_heartbeat)(threadmill_ctx* ctx);

  /* Optional (NULL): called before the module is unloaded. */
  void (*fini)(void* state);

  /* ABI 1.1, optional (NULL, or absent when struct_size ends before it): a draft of this
   * handler was approved (possibly after an edit), rejected or expired. Runs as a job in the
   * handler's queue, in a worker, with the same host calls as on_heartbeat (no current
   * message: reply/draft/attachment_read/raw_message are THREADMILL_INVALID). Delivered at
   * least once; return THREADMILL_RETRY to be called again later, anything else ends it. */
  int (*on_draft_decision)(threadmill_ctx* ctx, const threadmill_draft_decision* decision);
} threadmill_handler;

/* The one symbol a module exports (see THREADMILL_HANDLER_ENTRY). */
typedef const threadmill_handler* (*threadmill_handler_entry_fn)(void);

/* Declares the entry point with default visibility, for modules built with
 * -fvisibility=hidden or a version script exporting only threadmill_handler_v1. */
#if defined(__GNUC__)
#define THREADMILL_EXPORT __attribute__((visibility("default")))
#else
#define THREADMILL_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif /* THREADMILL_HANDLER_H */
