#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "filter/authentication.h"
#include "log/logger.h"
#include "milter/drain.h"
#include "milter/session.h"

namespace threadmill::milter {
namespace {

// libmilter's callbacks carry no user pointer: the service is set once before smfi_main and
// only read afterwards.
Service* g_service = nullptr;

Session* GetSession(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

// --- idle connections (see CloseIdleConnections) ---------------------------------------------

struct Liveness {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;  // the socket's identity, checked again before it is shut down
  std::chrono::steady_clock::time_point last;
  int busy = 0;  // callbacks running now (a long end-of-message is not idleness)
  bool shut = false;
};

std::mutex g_live_mutex;
std::unordered_map<SMFICTX*, Liveness> g_live;

// The connection's socket. libmilter has no API for it; its private context has begun with
// { sthread_t ctx_id; socket_t ctx_sd; } in every release since 8.12. The descriptor is only
// trusted when it is a connected (not listening) socket; -1 otherwise.
int SocketOf(SMFICTX* ctx, struct stat* st) {
  struct Prefix {
    pthread_t id;
    int sd;
  };
  int fd = reinterpret_cast<const Prefix*>(ctx)->sd;
  if (fd < 0 || fstat(fd, st) != 0 || !S_ISSOCK(st->st_mode)) return -1;
  int listening = 1;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return -1;
  return fd;
}

// Marks a callback of `ctx` running for its lifetime; the connection is active again after.
class Activity {
 public:
  explicit Activity(SMFICTX* ctx) : ctx_(ctx) {
    std::lock_guard lock(g_live_mutex);
    auto [it, fresh] = g_live.try_emplace(ctx);
    if (fresh) {
      struct stat st {};
      it->second.fd = SocketOf(ctx, &st);
      it->second.dev = st.st_dev;
      it->second.ino = st.st_ino;
    }
    ++it->second.busy;
  }
  ~Activity() {
    std::lock_guard lock(g_live_mutex);
    auto it = g_live.find(ctx_);
    if (it == g_live.end()) return;  // closed meanwhile
    --it->second.busy;
    it->second.last = std::chrono::steady_clock::now();
  }
  Activity(const Activity&) = delete;
  Activity& operator=(const Activity&) = delete;

 private:
  SMFICTX* ctx_;
};

void ForgetConnection(SMFICTX* ctx) {
  std::lock_guard lock(g_live_mutex);
  g_live.erase(ctx);
}

std::string Macro(SMFICTX* ctx, const char* name) {
  const char* value = smfi_getsymval(ctx, const_cast<char*>(name));
  return value ? value : "";
}

std::string AddressText(const sockaddr* address) {
  if (!address) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

// MAIL FROM / RCPT TO argument without angle brackets (ESMTP parameters come separately).
std::string EnvelopeAddress(const char* argument) {
  std::string_view a = argument ? argument : "";
  while (!a.empty() && (a.front() == ' ' || a.front() == '<')) a.remove_prefix(1);
  while (!a.empty() && (a.back() == ' ' || a.back() == '>')) a.remove_suffix(1);
  return std::string(a);
}

// Maps a failure inside a callback to the configured answer.
sfsistat OnInternalError(SMFICTX* ctx, const char* step, const char* what) {
  log::Get().error("{}: internal error in {}: {}", Macro(ctx, "i"), step, what);
  auto action = g_service->config()->milter.on_internal_error;
  if (action == config::FailureAction::kTempfail) {
    smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                  const_cast<char*>("threadmill: temporary internal error, try again later"));
    return SMFIS_TEMPFAIL;
  }
  return SMFIS_ACCEPT;
}

// Steps whose reply never changes the outcome: the MTA need not wait for them.
constexpr unsigned long kNoReplySteps = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
                                        SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
// Body chunks are asked for only when something needs them (DKIM, handler spooling).
constexpr unsigned long kSkippedSteps = SMFIP_NODATA | SMFIP_NOUNKNOWN;

// The session of this connection, created at negotiation (or connect, for MTAs that skip it).
Session* EnsureSession(SMFICTX* ctx) {
  if (Session* s = GetSession(ctx)) return s;
  auto* session = new Session(g_service->processor());
  smfi_setpriv(ctx, session);
  return session;
}

// The answer to a step: none when the MTA agreed not to wait for this step's reply.
sfsistat Quiet(SMFICTX* ctx, unsigned long no_reply_flag) {
  Session* s = GetSession(ctx);
  return s && (s->negotiated_steps() & no_reply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// Runs a pre-end-of-message step. A failure there is logged and remembered; the failure
// policy answers at end-of-message, since the MTA may not be listening for a reply now.
template <typename Fn>
sfsistat Step(SMFICTX* ctx, const char* step, unsigned long no_reply_flag, Fn&& body) noexcept {
  try {
    Activity active(ctx);
    body();
  } catch (const std::exception& e) {
    log::Get().error("{}: internal error in {}: {}", Macro(ctx, "i"), step, e.what());
    if (Session* s = GetSession(ctx)) s->MarkFailed();
  } catch (...) {
    log::Get().error("{}: internal error in {}: unknown exception", Macro(ctx, "i"), step);
    if (Session* s = GetSession(ctx)) s->MarkFailed();
  }
  return Quiet(ctx, no_reply_flag);
}

// Runs a step whose answer the MTA waits for; failures get the failure policy's answer.
template <typename Fn>
sfsistat Guard(SMFICTX* ctx, const char* step, Fn&& body) noexcept {
  try {
    Activity active(ctx);
    return body();
  } catch (const std::exception& e) {
    return OnInternalError(ctx, step, e.what());
  } catch (...) {
    return OnInternalError(ctx, step, "unknown exception");
  }
}

extern "C" sfsistat OnNegotiate(SMFICTX* ctx, unsigned long actions, unsigned long steps,
                                unsigned long, unsigned long, unsigned long* want_actions,
                                unsigned long* want_steps, unsigned long* f2, unsigned long* f3) {
  return Guard(ctx, "negotiate", [&]() -> sfsistat {
    *want_actions = actions & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_QUARANTINE |
                               SMFIF_SETSYMLIST);
    unsigned long skipped = kSkippedSteps;
    if (!g_service->processor()->needs_body()) skipped |= SMFIP_NOBODY;
    // SMFIP_HDR_LEADSPC: header values arrive exactly as after the colon (DKIM simple
    // header canonicalization needs the bytes); values we add must then carry a leading space.
    *want_steps = steps & (kNoReplySteps | skipped | SMFIP_HDR_LEADSPC);
    *f2 = 0;
    *f3 = 0;
    EnsureSession(ctx)->set_negotiated_steps(*want_steps);
    if (actions & SMFIF_SETSYMLIST) {
      smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("{daemon_name} j"));
      smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen}"));
      smfi_setsymlist(ctx, SMFIM_EOH, const_cast<char*>("i"));
      smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
    }
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* address) {
  return Step(ctx, "connect", SMFIP_NR_CONN, [&] {
    EnsureSession(ctx)->Connect(hostname ? hostname : "", AddressText(address),
                                Macro(ctx, "{daemon_name}"));
  });
}

extern "C" sfsistat OnHelo(SMFICTX* ctx, char* helo) {
  return Step(ctx, "helo", SMFIP_NR_HELO, [&] { EnsureSession(ctx)->Helo(helo ? helo : ""); });
}

extern "C" sfsistat OnEnvFrom(SMFICTX* ctx, char** argv) {
  drain::Begin(ctx);
  return Step(ctx, "envfrom", SMFIP_NR_MAIL, [&] {
    Session* s = EnsureSession(ctx);
    s->BeginMessage(g_service->processor(), EnvelopeAddress(argv ? argv[0] : nullptr),
                    Macro(ctx, "{auth_authen}"));
    s->SetQueueId(Macro(ctx, "i"));  // known here for non-SMTP submissions
  });
}

extern "C" sfsistat OnEnvRcpt(SMFICTX* ctx, char** argv) {
  return Step(ctx, "envrcpt", SMFIP_NR_RCPT,
              [&] { EnsureSession(ctx)->AddRecipient(EnvelopeAddress(argv ? argv[0] : nullptr)); });
}

extern "C" sfsistat OnHeader(SMFICTX* ctx, char* name, char* value) {
  return Step(ctx, "header", SMFIP_NR_HDR,
              [&] { EnsureSession(ctx)->AddHeader(name ? name : "", value ? value : ""); });
}

extern "C" sfsistat OnEoh(SMFICTX* ctx) {
  return Step(ctx, "eoh", SMFIP_NR_EOH, [&] {
    Session* s = EnsureSession(ctx);
    s->SetQueueId(Macro(ctx, "i"));
    s->EndOfHeaders();
  });
}

extern "C" sfsistat OnBody(SMFICTX* ctx, unsigned char* chunk, size_t length) {
  return Step(ctx, "body", SMFIP_NR_BODY, [&] {
    EnsureSession(ctx)->AddBody(std::string_view(reinterpret_cast<char*>(chunk), length));
  });
}

void SetReply(SMFICTX* ctx, const filter::SmtpReply& reply, const char* code, const char* enhanced,
              const char* text) {
  std::string message = "threadmill: " + (reply.text.empty() ? std::string(text) : reply.text);
  smfi_setreply(ctx, const_cast<char*>(reply.code.empty() ? code : reply.code.c_str()),
                const_cast<char*>(reply.enhanced.empty() ? enhanced : reply.enhanced.c_str()),
                message.data());
}

// libmilter and Postfix expect header values with bare LF line breaks: a CR LF fold would
// leave a stray CR in the queue file (and in the delivered message).
std::string BareLf(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    out += value[i];
  }
  return out;
}

// A header change the message must not go without failed: answer with a tempfail so the
// client retries, and say so in the decision line.
void FailHeaderChange(filter::Decision* d, const char* reason, const char* text) {
  d->outcome = filter::Outcome::kError;
  d->reason = reason;
  filter::Escalate(d, filter::Verdict::kTempfail, {"451", "4.7.0", text});
}

// Header changes of a message the MTA will accept: forged A-R deleted (from the last index
// down, so indexes stay valid), ours inserted at the top, others appended. A forged A-R that
// cannot be deleted never goes through (tempfail); a failed insert of our A-R follows
// on_internal_error. Rejected or deferred messages are not changed.
void ApplyHeaderChanges(SMFICTX* ctx, Session* s, filter::Decision* d) {
  if (d->verdict != filter::Verdict::kContinue) return;
  const std::string& queue_id = s->envelope().queue_id;
  const std::string lead = (s->negotiated_steps() & SMFIP_HDR_LEADSPC) ? " " : "";
  for (auto it = d->delete_auth_results.rbegin(); it != d->delete_auth_results.rend(); ++it) {
    if (smfi_chgheader(ctx, const_cast<char*>("Authentication-Results"), *it, nullptr) !=
        MI_SUCCESS) {
      log::Get().error("{}: could not delete forged Authentication-Results #{}", queue_id, *it);
      FailHeaderChange(d, "forged-ar-delete",
                       "cannot remove a forged Authentication-Results header, try again later");
      return;
    }
  }
  for (const auto& [name, value] : d->insert_headers) {
    std::string text = lead + BareLf(value);
    if (smfi_insheader(ctx, 0, const_cast<char*>(name.c_str()), text.data()) != MI_SUCCESS) {
      log::Get().error("{}: could not insert {} header ({} bytes)", queue_id, name, text.size());
      if (g_service->config()->milter.on_internal_error == config::FailureAction::kTempfail) {
        FailHeaderChange(d, "header-insert", "cannot add the authentication results, try again");
        return;
      }
    }
  }
  for (const auto& [name, value] : d->add_headers) {
    std::string text = lead + BareLf(value);
    if (smfi_addheader(ctx, const_cast<char*>(name.c_str()), text.data()) != MI_SUCCESS) {
      log::Get().warn("{}: could not add {} header", queue_id, name);
    }
  }
}

// Recipient changes and the verdict.
sfsistat ApplyVerdict(SMFICTX* ctx, Session* s, const filter::Decision& decision) {
  const std::string& queue_id = s->envelope().queue_id;
  if (decision.verdict == filter::Verdict::kContinue) {
    for (const auto& rcpt : decision.delete_recipients) {
      std::string bracketed = "<" + rcpt + ">";
      if (smfi_delrcpt(ctx, bracketed.data()) != MI_SUCCESS) {
        log::Get().warn("{}: could not remove consumed recipient {}", queue_id, bracketed);
      }
    }
    if (decision.discard) return SMFIS_DISCARD;  // every recipient was consumed by a handler
    if (!decision.quarantine.empty()) {
      smfi_quarantine(ctx, const_cast<char*>(decision.quarantine.c_str()));
    }
  }
  switch (decision.verdict) {
    case filter::Verdict::kTempfail:
      SetReply(ctx, decision.smtp_reply, "451", "4.3.0", "temporary failure, try again later");
      return SMFIS_TEMPFAIL;
    case filter::Verdict::kReject:
      SetReply(ctx, decision.smtp_reply, "550", "5.7.1", "rejected");
      return SMFIS_REJECT;
    case filter::Verdict::kContinue:
      break;
  }
  return SMFIS_CONTINUE;
}

extern "C" sfsistat OnEom(SMFICTX* ctx) {
  return Guard(ctx, "eom", [&]() -> sfsistat {
    Session* s = EnsureSession(ctx);
    s->SetQueueId(Macro(ctx, "i"));
    if (s->failed()) {  // an earlier step broke: the failure policy answers, once
      bool forged = s->forged_auth_results_seen();
      s->EndMessage();
      drain::End(ctx);
      if (forged) {  // "accept" would deliver a forged A-R of ours unchanged: never
        log::Get().error(
            "{}: internal error earlier in this message, which carries a forged "
            "Authentication-Results: deferred",
            Macro(ctx, "i"));
        smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                      const_cast<char*>("threadmill: temporary internal error, try again later"));
        return SMFIS_TEMPFAIL;
      }
      return OnInternalError(ctx, "eom", "message state incomplete after an earlier error");
    }
    filter::Decision decision = s->Finish();
    ApplyHeaderChanges(ctx, s, &decision);
    // Jobs only for what the MTA is told to accept, after its header changes were made.
    if (decision.verdict == filter::Verdict::kContinue) s->Commit(&decision);
    log::Get().info("{}", decision.LogLine(s->envelope()));
    sfsistat status = ApplyVerdict(ctx, s, decision);
    s->EndMessage();
    drain::End(ctx);
    return status;
  });
}

extern "C" sfsistat OnAbort(SMFICTX* ctx) {
  return Guard(ctx, "abort", [&]() -> sfsistat {
    if (Session* s = GetSession(ctx)) s->EndMessage();
    drain::End(ctx);
    return SMFIS_CONTINUE;
  });
}

extern "C" sfsistat OnClose(SMFICTX* ctx) {
  sfsistat status = Guard(ctx, "close", [&]() -> sfsistat {
    delete GetSession(ctx);
    smfi_setpriv(ctx, nullptr);
    drain::End(ctx);
    return SMFIS_CONTINUE;
  });
  ForgetConnection(ctx);  // before libmilter closes the descriptor
  return status;
}

}  // namespace

size_t CloseIdleConnections() {
  if (!g_service) return 0;
  auto timeout = std::chrono::seconds(g_service->config()->milter.timeout_seconds);
  auto now = std::chrono::steady_clock::now();
  size_t closed = 0;
  std::lock_guard lock(g_live_mutex);
  for (auto& [ctx, live] : g_live) {
    if (live.busy > 0 || live.shut || live.fd < 0 || now - live.last < timeout) continue;
    struct stat st {};
    live.shut = true;
    if (fstat(live.fd, &st) != 0 || st.st_dev != live.dev || st.st_ino != live.ino) continue;
    log::Get().info("closing an MTA connection idle for more than {} s ([milter] timeout_seconds)",
                    timeout.count());
    shutdown(live.fd, SHUT_RDWR);
    ++closed;
  }
  return closed;
}

bool RegisterCallbacks(Service* service) {
  g_service = service;
  static smfiDesc description = {};
  description.xxfi_name = const_cast<char*>("threadmill");
  description.xxfi_version = SMFI_VERSION;
  description.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_QUARANTINE;
  description.xxfi_connect = OnConnect;
  description.xxfi_helo = OnHelo;
  description.xxfi_envfrom = OnEnvFrom;
  description.xxfi_envrcpt = OnEnvRcpt;
  description.xxfi_header = OnHeader;
  description.xxfi_eoh = OnEoh;
  description.xxfi_body = OnBody;
  description.xxfi_eom = OnEom;
  description.xxfi_abort = OnAbort;
  description.xxfi_close = OnClose;
  description.xxfi_negotiate = OnNegotiate;
  return smfi_register(description) == MI_SUCCESS;
}

}  // namespace threadmill::milter
