// host.h - threadmill's side of the handler ABI: the host function table and the context.
//
// DESCRIPTION
//   HostApi() is the threadmill_host_api table handed to every handler's init(). Each host
//   function is noexcept at the boundary: C++ exceptions and errors become status codes
//   (threadmill_status) and a reason readable through last_error(); nothing is thrown
//   across the ABI. Host functions act on the handler's context (threadmill_ctx), which
//   Invocation builds for one call of init/on_inbound/on_heartbeat inside a worker:
//     reply        -> reply::Replier::Reply for the job's own message only
//     send         -> reply::Replier::Send (From = [handler.NAME] from, else the job's
//                     local recipient); remembered per (job, index) across retries;
//                     limited by sends_per_hour / sends_per_job ([handler.NAME] over [reply])
//   A reply or send refused as "reply-uncertain" (reinjected, outcome unknown) sets
//   park_reason: the job is parked for the operator, never retried into a second copy.
//     draft        -> DraftStore::Create (the pure reply rules are checked at once)
//     kv_*         -> store::KvStore in the handler's own key space
//     log          -> the threadmill log, prefixed "handler=NAME job=ID"
//     attachment_read / raw_message -> the spooled message (mail::ExtractAttachment)
//     config_get   -> [handler.NAME] values as strings
//     reply_ex / send_ex (ABI 1.1) -> the same paths with subject, html, cc (send only),
//                     attachments and checked extra headers; the new Message-ID written out
//     thread (ABI 1.1) -> store::ThreadStore, only the job's thread or one the handler owns
//   In init (ctx.in_init) the calls with mail effects or needing a current message are
//   THREADMILL_INVALID "not-allowed-in-init" (handler.h "Calling rules").
//   Status mapping: kRefused -> THREADMILL_REFUSED, kInvalidInput -> THREADMILL_INVALID,
//   kNotFound -> THREADMILL_NOT_FOUND, kStore/kTemporary (store or reinjection trouble;
//   return THREADMILL_RETRY to try the job later) -> THREADMILL_STORE, others INTERNAL.
//
// THREADING
//   One worker runs one call at a time; a context is used by one thread.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mail/mime.h"
#include "reply/replier.h"
#include "runtime/drafts.h"
#include "runtime/job.h"
#include "runtime/loader.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"
#include "store/kv_store.h"
#include "threadmill/handler.h"

namespace threadmill::runtime {

// Everything a worker's host functions use; one per worker process.
struct HostServices {
  std::shared_ptr<store::Environment> env;
  std::shared_ptr<const RuntimeConfig> config;
  std::unique_ptr<reply::Replier> replier;
  std::unique_ptr<store::KvStore> kv;
  std::unique_ptr<DraftStore> drafts;

  // Opens the services on an environment (the worker's own, opened after fork()).
  // `busy` (may be empty) is called before the reply path blocks for up to N seconds.
  static std::unique_ptr<HostServices> Create(std::shared_ptr<store::Environment> env,
                                              std::shared_ptr<const RuntimeConfig> config,
                                              std::function<void(int64_t)> busy = {});
};

const threadmill_host_api* HostApi();

// What host->thread's result points into (kept in the context until the next call).
struct ThreadView {
  store::ThreadRecord record;
  std::vector<store::MessageRecord> messages;  // ids bracketed, strings UTF-8
  std::vector<const char*> participants;
  std::vector<threadmill_thread_message> items;
  std::vector<const threadmill_thread_message*> pointers;
  threadmill_thread thread{};
};

// The inbound message of a job, parsed, with the envelope handed to on_inbound. The
// envelope's pointers point into this object.
class InboundMessage {
 public:
  // `replier` (may be null): predicts the envelope's no_reply_reason (Replier::Predict).
  InboundMessage(const Job& job, std::string raw, const reply::Replier* replier = nullptr);
  InboundMessage(const InboundMessage&) = delete;  // the envelope points into this object
  InboundMessage& operator=(const InboundMessage&) = delete;
  const threadmill_envelope* envelope() const { return &envelope_; }
  const reply::InboundFacts& facts() const { return facts_; }
  const std::string& raw() const { return raw_; }
  const mail::ParsedMessage& parsed() const { return parsed_; }

 private:
  Job job_;
  std::string raw_;
  mail::ParsedMessage parsed_;
  reply::InboundFacts facts_;
  std::string message_id_bracketed_, parent_bracketed_, reply_text_, no_reply_reason_,
      channel_ = "email";
  std::vector<threadmill_attachment> attachments_;
  std::vector<std::string> header_values_;
  std::vector<threadmill_header> headers_;
  threadmill_envelope envelope_{};
  // handler.h promises UTF-8 strings: envelope strings that are not (8-bit ids and
  // addresses, raw header bytes) point to repaired copies kept here (stable addresses).
  void MakeStringsUtf8();
  std::deque<std::string> utf8_copies_;
};

}  // namespace threadmill::runtime

// The opaque context of handler.h. One per call of a handler function.
struct threadmill_ctx {
  threadmill::runtime::HostServices* services = nullptr;
  const threadmill::runtime::LoadedModule* module = nullptr;
  void* state = nullptr;
  const threadmill::runtime::Job* job = nullptr;                 // null outside on_inbound
  const threadmill::runtime::InboundMessage* message = nullptr;  // null outside on_inbound
  bool in_init = false;  // init: only the calls handler.h allows there
  std::string task_id;   // outside on_inbound: the task's name in log lines ("heartbeat-NAME-N")
  std::string last_error;
  uint32_t send_index = 0;
  // Set when a reply or send of this call is "uncertain" (reply/replier.h): the worker
  // parks the job with this reason whatever the handler returns.
  std::string park_reason;
  // Buffers behind pointers returned to the handler.
  std::string kv_value;
  std::vector<threadmill::store::KvEntry> kv_entries;
  std::vector<threadmill_kv_item> kv_items;
  std::string attachment;
  std::unique_ptr<threadmill::runtime::ThreadView> thread_view;
};
