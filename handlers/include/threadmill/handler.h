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
 * another major. Minor versions only append members at the END of structs; every struct
 * starts with struct_size so both sides can tell which members exist. A module built for an
 * older or newer minor of the same major loads.
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
#define THREADMILL_ABI_MINOR 0
#define THREADMILL_HANDLER_ENTRY "threadmill_handler_v1"

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

typedef struct threadmill_attachment {
  uint32_t struct_size;
  const char* file_id;      /* [host] pass to host->attachment_read */
  const char* filename;     /* [host] decoded (RFC 2047/2231), "" when the part has none */
  const char* content_type; /* [host] e.g. "application/pdf" */
  uint64_t size;            /* decoded size in bytes */
} threadmill_attachment;

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
  const char* parent_message_id;  /* the answered message of ours, "<id@host>", or "" when the
                                     thread match names none (match=token, a new thread) */
} threadmill_envelope;

/* One key of host->kv_list. [host] */
typedef struct threadmill_kv_item {
  const char* key;
  const void* value; /* NULL unless include_values */
  size_t value_len;
} threadmill_kv_item;

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
   * is written NUL-terminated to thread_id_out (capacity cap, 64 is enough). */
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

  /* The reason of the last THREADMILL_REFUSED/INVALID on this ctx, e.g. "dmarc". [host] */
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

  /* Optional (NULL): called every heartbeat_seconds for batch work. */
  int (*on_heartbeat)(threadmill_ctx* ctx);

  /* Optional (NULL): called before the module is unloaded. */
  void (*fini)(void* state);
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
