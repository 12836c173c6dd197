#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "log/logger.h"
#include "milter/drain.h"
#include "milter/session.h"

namespace threadmill::milter {
namespace {

// libmilter's callbacks carry no user pointer: the service is set once before smfi_main and
// only read afterwards.
Service* g_service = nullptr;

Session* GetSession(SMFICTX* ctx) { return static_cast<Session*>(smfi_getpriv(ctx)); }

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
    *want_steps = steps & (kNoReplySteps | skipped);
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

// Header changes first (forged A-R deleted from the last index down, so indexes stay valid),
// then the verdict.
sfsistat Apply(SMFICTX* ctx, Session* s, const filter::Decision& decision) {
  const std::string& queue_id = s->envelope().queue_id;
  for (auto it = decision.delete_auth_results.rbegin(); it != decision.delete_auth_results.rend();
       ++it) {
    if (smfi_chgheader(ctx, const_cast<char*>("Authentication-Results"), *it, nullptr) !=
        MI_SUCCESS) {
      log::Get().warn("{}: could not delete forged Authentication-Results #{}", queue_id, *it);
    }
  }
  for (const auto& [name, value] : decision.insert_headers) {
    if (smfi_insheader(ctx, 0, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())) !=
        MI_SUCCESS) {
      log::Get().warn("{}: could not insert {} header", queue_id, name);
    }
  }
  for (const auto& [name, value] : decision.add_headers) {
    if (smfi_addheader(ctx, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())) !=
        MI_SUCCESS) {
      log::Get().warn("{}: could not add {} header", queue_id, name);
    }
  }
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
      s->EndMessage();
      drain::End(ctx);
      return OnInternalError(ctx, "eom", "message state incomplete after an earlier error");
    }
    filter::Decision decision = s->Finish();
    log::Get().info("{}", decision.LogLine(s->envelope()));
    sfsistat status = Apply(ctx, s, decision);
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
  return Guard(ctx, "close", [&]() -> sfsistat {
    delete GetSession(ctx);
    smfi_setpriv(ctx, nullptr);
    drain::End(ctx);
    return SMFIS_CONTINUE;
  });
}

}  // namespace

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
