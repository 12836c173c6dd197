// authenticator.cc - see authenticator.h.
#include "auth/authenticator.h"

#include <strings.h>

#include <algorithm>
#include <map>
#include <system_error>
#include <thread>
#include <utility>

#include "auth/arc_policy.h"
#include "auth/auth_results.h"

namespace threadmill::auth {

Result<std::unique_ptr<Authenticator>> Authenticator::Create(const AuthOptions& options) {
  std::unique_ptr<Authenticator> a(new Authenticator());
  a->options_ = options;
  if (a->options_.authserv_id.empty())
    return MakeError(ErrorCode::kInvalidInput, "authserv_id must be set");
  if (a->options_.message_dns_budget.count() < 0)
    return MakeError(ErrorCode::kInvalidInput, "message_dns_budget must not be negative");
  if (a->options_.message_dns_budget.count() == 0)
    a->options_.message_dns_budget = 2 * options.dns.timeout;
  auto resolver = Resolver::Create(options.dns);
  if (!resolver) return resolver.error();
  a->resolver_ = std::move(resolver).value();
  if (options.spf) a->spf_ = MakeSpfChecker(*a->resolver_, a->options_.authserv_id);
  if (options.dkim) {
    auto lib = DkimLibrary::Create(*a->resolver_);
    if (!lib) return lib.error();
    a->dkim_ = std::move(lib).value();
  }
  if (options.dmarc) {
    DmarcOptions dopt;
    if (!options.psl_path.empty()) dopt.psl_path = options.psl_path;
    dopt.sample = options.dmarc_sample;
    dopt.max_author_domains = options.max_author_domains;
    auto ev = DmarcEvaluator::Create(*a->resolver_, std::move(dopt));
    if (!ev) return ev.error();
    a->dmarc_ = std::move(ev).value();
  }
  return a;
}

// Members are destroyed in reverse order: DMARC, DKIM_LIB, SPF, then the resolver.
Authenticator::~Authenticator() = default;

std::unique_ptr<MessageAuth> Authenticator::Begin(std::string_view client_ip, std::string_view helo,
                                                  std::string_view id) {
  return std::unique_ptr<MessageAuth>(
      new MessageAuth(*this, std::string(client_ip), std::string(helo), id));
}

MessageAuth::MessageAuth(Authenticator& a, std::string ip, std::string helo, std::string_view id)
    : auth_(a),
      ip_(std::move(ip)),
      helo_(std::move(helo)),
      dns_left_(a.options_.message_dns_budget) {
  if (ip_.size() > 5 && strncasecmp(ip_.c_str(), "IPv6:", 5) == 0) ip_.erase(0, 5);
  if (auth_.dkim_)
    dkim_ = auth_.dkim_->NewVerifier(
        DkimOptions{auth_.options_.max_signatures, auth_.options_.max_key_lookups}, id);
  if (auth_.options_.arc)
    arc_ = std::make_unique<ArcVerifier>(ArcOptions{auth_.options_.max_key_lookups});
}

MessageAuth::~MessageAuth() = default;

void MessageAuth::EnvelopeFrom(std::string_view addr) {
  while (!addr.empty() && (addr.front() == '<' || addr.front() == ' ')) addr.remove_prefix(1);
  while (!addr.empty() && (addr.back() == '>' || addr.back() == ' ')) addr.remove_suffix(1);
  mail_from_ = std::string(addr);
}

namespace {

bool IsField(std::string_view name, std::string_view want) {
  return name.size() == want.size() && strncasecmp(name.data(), want.data(), want.size()) == 0;
}

}  // namespace

void MessageAuth::Header(std::string_view name, std::string_view value) {
  if (IsField(name, "From")) from_headers_.emplace_back(value);
  // Fields above the first Received (the one our MTA added) were added by local filters
  // running before us; below it they came with the message and prove nothing.
  if (IsField(name, "Received")) seen_received_ = true;
  if (IsField(name, "Authentication-Results")) {
    ++ar_count_;
    if (ClaimsAuthservId(value, auth_.options_.authserv_id)) {
      forged_.push_back(ar_count_);
    } else if (!seen_received_) {
      for (const auto& trusted : auth_.options_.trusted_authserv_ids) {
        if (!ClaimsAuthservId(value, trusted)) continue;
        auto parsed = ParseAuthResults(value);
        if (parsed) upstream_.push_back(std::move(parsed).value());
        break;
      }
    }
  }
  if (dkim_) dkim_->Header(name, value);
  if (arc_) arc_->Header(name, value);
}

void MessageAuth::EndOfHeaders() {
  if (arc_) arc_->EndOfHeaders();
  if (auth_.dmarc_) author_domains_ = AuthorDomains(from_headers_);
  if (author_domains_.size() > auth_.options_.max_author_domains)
    author_domains_.resize(auth_.options_.max_author_domains);
  if (!dkim_) return;
  if (auth_.dmarc_) {
    // Signatures of the author's (organizational) domains come first (see LIMITS).
    const DmarcEvaluator* dmarc = auth_.dmarc_.get();
    dkim_->SetAligned([dmarc, domains = author_domains_](std::string_view d) {
      for (const auto& author : domains)
        if (dmarc->RelaxedAligned(d, author)) return true;
      return false;
    });
  }
  auto start = std::chrono::steady_clock::now();
  dkim_->EndOfHeaders(start + dns_left_);  // no DNS here (keys are fetched in Finish)
  dns_left_ -= std::min(dns_left_, std::chrono::steady_clock::now() - start);
}

void MessageAuth::Body(std::string_view chunk) {
  if (dkim_ && upstream_.empty()) dkim_->Body(chunk);
  if (arc_ && upstream_.empty()) arc_->Body(chunk);
}

Verdicts MessageAuth::Finish() {
  if (!upstream_.empty()) return VerdictsFromAuthResults(upstream_);
  DnsDeadline deadline = std::chrono::steady_clock::now() + dns_left_;
  Verdicts v;
  // 1. The deciding look-ups, all at once so none waits behind another: SPF for MAIL FROM
  //    (own thread), the `_dmarc` records of the author domains and the keys of aligned
  //    signatures (one batch on the resolver).
  std::vector<std::string> key_names;
  if (dkim_) key_names = dkim_->AlignedKeyNames();
  std::vector<std::string> record_names;
  if (auth_.dmarc_) record_names = auth_.dmarc_->RecordNames(author_domains_);
  std::vector<std::pair<std::string, uint16_t>> batch;
  for (const auto& n : key_names) batch.emplace_back(n, kTypeTxt);
  for (const auto& n : record_names) batch.emplace_back(n, kTypeTxt);
  auto check_spf = [&] {
    v.spf_checked = true;
    v.spf = mail_from_.empty() ? auth_.spf_->CheckHelo(ip_, helo_, deadline)
                               : auth_.spf_->CheckMailFrom(ip_, helo_, mail_from_, deadline);
  };
  std::thread spf_thread;
  if (auth_.spf_ && !batch.empty()) {
    try {
      spf_thread = std::thread(check_spf);
    } catch (const std::system_error&) {
      // No thread to be had: SPF runs after the batch, on this one.
    }
  }
  std::vector<DnsResult> answers;
  if (!batch.empty()) answers = auth_.resolver_->QueryAll(batch, deadline);
  if (spf_thread.joinable())
    spf_thread.join();
  else if (auth_.spf_)
    check_spf();
  std::map<std::string, DnsResult> records;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (i < key_names.size())
      dkim_->AddKeyAnswer(key_names[i], std::move(answers[i]));
    else
      records.emplace(batch[i].first, std::move(answers[i]));
  }
  // 2. Unaligned signatures' keys: only what is left of the budget.
  if (dkim_) v.dkim = dkim_->EndOfMessage(deadline);
  // 3. DMARC on what was fetched (asks only for what the batch did not hold).
  if (auth_.dmarc_) {
    v.dmarc_checked = true;
    DmarcInput in;
    in.from_headers = from_headers_;
    in.client_ip = ip_;
    in.spf = v.spf;
    in.dkim = v.dkim;
    in.records = &records;
    v.dmarc = auth_.dmarc_->Evaluate(in, deadline);
  }
  // 4. ARC, with what is left of the budget; then the trusted-sealer override.
  if (arc_) {
    v.arc_checked = true;
    Resolver& resolver = *auth_.resolver_;
    v.arc = arc_->Finish([&resolver, deadline](const std::string& name) {
      return resolver.Query(name, kTypeTxt, deadline);
    });
    ApplyArcOverride(auth_.options_.arc_trusted_sealers, &v);
  }
  return v;
}

}  // namespace threadmill::auth
