// auth_results.cc - see auth_results.h.
#include "auth/auth_results.h"

#include <strings.h>

#include <utility>

#include "auth/psl.h"
#include "common/ascii.h"

namespace threadmill::auth {
namespace {

// A small RFC 5322 tokenizer: skips CFWS, reads tokens, quoted strings and specials.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void SkipCfws() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '(') {
        size_t start = i_ + 1;
        int depth = 0;
        do {
          if (s_[i_] == '\\')
            ++i_;
          else if (s_[i_] == '(')
            ++depth;
          else if (s_[i_] == ')')
            --depth;
          ++i_;
        } while (i_ < s_.size() && depth > 0);
        size_t end = depth == 0 ? i_ - 1 : s_.size();
        comments_.emplace_back(s_.substr(start, end > start ? end - start : 0));
      } else {
        break;
      }
    }
  }
  bool AtEnd() {
    SkipCfws();
    return i_ >= s_.size();
  }
  bool Peek(char c) {
    SkipCfws();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool Eat(char c) {
    if (!Peek(c)) return false;
    ++i_;
    return true;
  }
  // A value: quoted-string or a run of characters up to CFWS, ';', '=' (when stop_eq).
  std::string Value(bool stop_eq) {
    SkipCfws();
    std::string out;
    if (i_ < s_.size() && s_[i_] == '"') {
      for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        out += s_[i_];
      }
      if (i_ < s_.size()) ++i_;
      return out;
    }
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' ||
          (stop_eq && c == '='))
        break;
      out += c;
      ++i_;
    }
    return out;
  }

  // Comments skipped since the last call.
  std::vector<std::string> TakeComments() { return std::exchange(comments_, {}); }

 private:
  std::string_view s_;
  size_t i_ = 0;
  std::vector<std::string> comments_;
};

void Append(std::string& out, std::string_view piece) {
  out += ";\r\n\t";
  out += piece;
}

// Quotes a property value when it is not a plain token (RFC 8601 section 2.2 "value").
std::string Quote(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c <= ' ' || c == '"' || c == ';' || c == '(' || c == ')' || c == '\\' || c == '=')
      plain = false;
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c != '\r' && c != '\n') out += c;
  }
  return out + "\"";
}

// Text safe inside an RFC 5322 comment.
std::string Comment(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != '(' && c != ')' && c != '\\' && c != '\r' && c != '\n') out += c;
  return out;
}

SpfResult SpfFromString(std::string_view r) {
  for (auto x : {SpfResult::kPass, SpfResult::kFail, SpfResult::kSoftFail, SpfResult::kNeutral,
                 SpfResult::kTempError, SpfResult::kPermError})
    if (r == ToString(x)) return x;
  return SpfResult::kNone;
}

DkimResult DkimFromString(std::string_view r) {
  for (auto x : {DkimResult::kPass, DkimResult::kFail, DkimResult::kNeutral, DkimResult::kPolicy,
                 DkimResult::kTempError, DkimResult::kPermError})
    if (r == ToString(x)) return x;
  return DkimResult::kNone;
}

// The policy in a comment such as "p=reject dis=none" (OpenDMARC writes no policy.dmarc);
// "" when no comment has a p= word.
std::string PolicyFromComments(const std::vector<std::string>& comments) {
  for (const std::string& c : comments) {
    for (size_t i = 0; i + 2 <= c.size(); ++i) {
      bool word_start = i == 0 || c[i - 1] == ' ' || c[i - 1] == '\t' || c[i - 1] == ';';
      if (!word_start || (c[i] != 'p' && c[i] != 'P') || c[i + 1] != '=') continue;
      size_t end = c.find_first_of(" \t;", i + 2);
      return ascii::ToLower(c.substr(i + 2, end == std::string::npos ? end : end - i - 2));
    }
  }
  return {};
}

DmarcResult DmarcFromString(std::string_view r) {
  for (auto x :
       {DmarcResult::kPass, DmarcResult::kFail, DmarcResult::kTempError, DmarcResult::kPermError})
    if (r == ToString(x)) return x;
  return DmarcResult::kNone;
}

}  // namespace

std::string AuthResultsMethod::Property(std::string_view name) const {
  for (const auto& [k, v] : properties)
    if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return v;
  return {};
}

Result<ParsedAuthResults> ParseAuthResults(std::string_view value) {
  Lexer lx(value);
  ParsedAuthResults out;
  out.authserv_id = lx.Value(false);
  if (out.authserv_id.empty())
    return MakeError(ErrorCode::kInvalidInput, "Authentication-Results without authserv-id");
  if (!lx.AtEnd() && !lx.Peek(';')) {
    std::string version = lx.Value(false);
    if (version.empty() || version.find_first_not_of("0123456789") != std::string::npos)
      return MakeError(ErrorCode::kInvalidInput, "bad A-R version '" + version + "'");
    out.version = std::stoi(version.substr(0, 6));
  }
  while (lx.Eat(';')) {
    if (lx.AtEnd()) break;
    lx.TakeComments();  // those before the method belong to no resinfo
    AuthResultsMethod m;
    std::string method = ascii::ToLower(lx.Value(true));
    if (method == "none" && !lx.Peek('=')) continue;
    size_t slash = method.find('/');
    m.method = slash == std::string::npos ? method : method.substr(0, slash);
    if (m.method.empty() || !lx.Eat('='))
      return MakeError(ErrorCode::kInvalidInput, "bad resinfo near '" + method + "'");
    m.result = ascii::ToLower(lx.Value(true));
    while (!lx.AtEnd() && !lx.Peek(';')) {
      std::string key = ascii::ToLower(lx.Value(true));
      if (key.empty() || !lx.Eat('='))
        return MakeError(ErrorCode::kInvalidInput, "bad property near '" + key + "'");
      std::string val = lx.Value(false);
      if (key == "reason")
        m.reason = val;
      else
        m.properties.emplace_back(key, val);
    }
    m.comments = lx.TakeComments();
    out.methods.push_back(std::move(m));
  }
  if (!lx.AtEnd()) return MakeError(ErrorCode::kInvalidInput, "trailing garbage in A-R");
  return out;
}

bool ClaimsAuthservId(std::string_view value, std::string_view authserv_id) {
  Lexer lx(value);
  std::string id = lx.Value(false);
  return !id.empty() && id.size() == authserv_id.size() &&
         strncasecmp(id.data(), authserv_id.data(), id.size()) == 0;
}

std::string BuildAuthResults(const Verdicts& v, std::string_view authserv_id,
                             size_t max_dkim_entries) {
  // Bounded whatever the message: at most max_dkim_entries dkim results, each value cut to
  // a DNS name's length, so the field always fits the MTA's limits (issue 8 item 10).
  auto clip = [](std::string_view x) { return x.substr(0, 255); };
  std::string out(authserv_id);
  size_t empty_len = out.size();
  if (v.spf_checked) {
    std::string s = std::string("spf=") + ToString(v.spf.result);
    if (!v.spf.reason.empty()) s += " (" + Comment(clip(v.spf.reason)) + ")";
    if (v.spf.scope == SpfScope::kHelo)
      s += " smtp.helo=" + Quote(clip(v.spf.domain));
    else
      s += " smtp.mailfrom=" + Quote(clip(v.spf.identity.empty() ? v.spf.domain : v.spf.identity));
    Append(out, s);
  }
  for (size_t i = 0; i < v.dkim.size() && i < max_dkim_entries; ++i) {
    const auto& d = v.dkim[i];
    std::string s = std::string("dkim=") + ToString(d.result);
    if (!d.reason.empty()) s += " reason=" + Quote(clip(d.reason));
    if (d.key_bits != 0) s += " (" + std::to_string(d.key_bits) + "-bit key)";
    s += " header.d=" + Quote(clip(d.domain)) + " header.s=" + Quote(clip(d.selector)) +
         " header.a=" + Quote(clip(d.algorithm));
    Append(out, s);
  }
  if (v.dmarc_checked) {
    std::string s = std::string("dmarc=") + ToString(v.dmarc.result);
    bool arc_override = !v.arc_override.empty();
    if (arc_override) s += " reason=\"arc\"";  // RFC 8617 section 7.2
    if (!v.dmarc.policy_domain.empty())
      s += std::string(" (p=") + ToString(v.dmarc.policy) +
           " dis=" + (arc_override ? "none" : ToString(v.dmarc.disposition)) + ")";
    if (!v.dmarc.from_domain.empty()) s += " header.from=" + Quote(clip(v.dmarc.from_domain));
    if (!v.dmarc.policy_domain.empty())
      s += std::string(" policy.dmarc=") + ToString(v.dmarc.policy);
    if (arc_override) s += " policy.arc-override=" + Quote(clip(v.arc_override));
    Append(out, s);
  }
  if (v.arc_checked && v.arc.result != ArcResult::kNone) {
    // RFC 8617 section 4.1.3 / 8601: arc=pass header.oldest-pass=0 smtp.remote-ip=...
    std::string s = std::string("arc=") + ToString(v.arc.result);
    std::string why = v.arc.sealer_domain.empty() ? "" : "sealer " + v.arc.sealer_domain;
    if (v.arc.result == ArcResult::kFail && !v.arc.reason.empty())
      why += (why.empty() ? "" : ", ") + v.arc.reason;
    if (!why.empty()) s += " (" + Comment(clip(why)) + ")";
    if (v.arc.result == ArcResult::kPass)
      s += " header.oldest-pass=" + std::to_string(v.arc.oldest_pass);
    Append(out, s);
  }
  if (out.size() == empty_len) out += "; none";
  return out;
}

namespace {

void AddUpstreamMethods(const ParsedAuthResults& parsed, Verdicts* out) {
  Verdicts& v = *out;
  for (const auto& m : parsed.methods) {
    if (m.method == "spf" && !v.spf_checked) {
      v.spf_checked = true;
      v.spf.result = SpfFromString(m.result);
      std::string mf = m.Property("smtp.mailfrom");
      if (!mf.empty()) {
        v.spf.scope = SpfScope::kMailFrom;
        v.spf.identity = mf;
        size_t at = mf.rfind('@');
        v.spf.domain = ascii::ToLower(at == std::string::npos ? mf : mf.substr(at + 1));
      } else {
        v.spf.scope = SpfScope::kHelo;
        v.spf.domain = ascii::ToLower(m.Property("smtp.helo"));
      }
      v.spf.reason = m.reason;
    } else if (m.method == "dkim") {
      DkimSignatureResult d;
      d.result = DkimFromString(m.result);
      d.domain = ascii::ToLower(m.Property("header.d"));
      if (d.domain.empty()) {
        std::string i = m.Property("header.i");
        size_t at = i.rfind('@');
        d.domain = ascii::ToLower(at == std::string::npos ? i : i.substr(at + 1));
      }
      d.selector = m.Property("header.s");
      d.algorithm = m.Property("header.a");
      d.reason = m.reason;
      v.dkim.push_back(std::move(d));
    } else if (m.method == "dmarc" && !v.dmarc_checked) {
      v.dmarc_checked = true;
      v.dmarc.result = DmarcFromString(m.result);
      v.dmarc.from_domain = ascii::ToLower(m.Property("header.from"));
      std::string pol = ascii::ToLower(m.Property("policy.dmarc"));
      if (pol.empty()) pol = PolicyFromComments(m.comments);
      if (!pol.empty()) v.dmarc.policy_domain = v.dmarc.from_domain;
      v.dmarc.policy = pol == "reject"       ? DmarcPolicy::kReject
                       : pol == "quarantine" ? DmarcPolicy::kQuarantine
                                             : DmarcPolicy::kNone;
      if (v.dmarc.result == DmarcResult::kFail) v.dmarc.disposition = v.dmarc.policy;
      v.dmarc.reason = m.reason;
    }
  }
}

}  // namespace

Verdicts VerdictsFromAuthResults(const ParsedAuthResults& parsed) {
  return VerdictsFromAuthResults(std::vector<ParsedAuthResults>{parsed});
}

Verdicts VerdictsFromAuthResults(const std::vector<ParsedAuthResults>& fields) {
  Verdicts v;
  v.from_upstream = true;
  std::vector<std::string_view> ids;
  for (const auto& parsed : fields) {
    bool listed = false;
    for (std::string_view id : ids)
      listed = listed || (id.size() == parsed.authserv_id.size() &&
                          strncasecmp(id.data(), parsed.authserv_id.data(), id.size()) == 0);
    if (!listed) {
      ids.push_back(parsed.authserv_id);
      if (!v.upstream_authserv_id.empty()) v.upstream_authserv_id += ',';
      v.upstream_authserv_id += parsed.authserv_id;
    }
    AddUpstreamMethods(parsed, &v);
  }
  return v;
}

}  // namespace threadmill::auth
