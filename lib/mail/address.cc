// address.cc - address lists (see address.h).
#include "mail/address.h"

#include "common/ascii.h"
#include "mail/addr_spec.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

namespace threadmill::mail {
namespace {

enum class Tok { kAtom, kQuoted, kComment, kLiteral, kSpecial };

struct Token {
  Tok kind;
  std::string text;  // quoted/comment: content unescaped; literal: with brackets
  bool space_before = false;
};

bool IsSpecial(char c) {
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '"' ||
         c == '(' || c == ')' || c == '[' || c == ']' || c == '\\';
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads a delimited run (quoted string, comment with nesting, domain literal).
size_t ReadDelimited(std::string_view v, size_t pos, char open, char close, std::string* out,
                     Defects* defects) {
  int depth = 1;
  for (++pos; pos < v.size(); ++pos) {
    char c = v[pos];
    if (c == '\\' && pos + 1 < v.size()) {
      *out += v[++pos];
      continue;
    }
    if (c == open && open != close) ++depth;
    if (c == close && --depth == 0) return pos + 1;
    if (c != '\r' && c != '\n') *out += c;
  }
  defects->Add(Defect::kUnterminated);
  return pos;
}

std::vector<Token> Tokenize(std::string_view v, Defects* defects) {
  std::vector<Token> toks;
  bool space = false;
  for (size_t pos = 0; pos < v.size();) {
    char c = v[pos];
    if (IsBlank(c) || c == '\0') {
      if (c == '\0') defects->Add(Defect::kNulByte);
      space = true;
      ++pos;
      continue;
    }
    Token t{Tok::kSpecial, {}, space};
    space = false;
    if (c == '"') {
      t.kind = Tok::kQuoted;
      pos = ReadDelimited(v, pos, '"', '"', &t.text, defects);
    } else if (c == '(') {
      t.kind = Tok::kComment;
      pos = ReadDelimited(v, pos, '(', ')', &t.text, defects);
    } else if (c == '[') {
      t.kind = Tok::kLiteral;
      pos = ReadDelimited(v, pos, '[', ']', &t.text, defects);
      t.text = "[" + t.text + "]";
    } else if (IsSpecial(c)) {
      t.text = std::string(1, c);
      ++pos;
    } else {
      t.kind = Tok::kAtom;
      while (pos < v.size() && !IsBlank(v[pos]) && !IsSpecial(v[pos]) && v[pos] != '\0') {
        t.text += v[pos++];
      }
    }
    toks.push_back(std::move(t));
  }
  return toks;
}

bool IsSpecialTok(const Token& t, char c) {
  return t.kind == Tok::kSpecial && t.text.size() == 1 && t.text[0] == c;
}

// Builds "local@domain" from addr-spec tokens [begin, end), dropping an obsolete route.
std::string AddrSpecFromTokens(const std::vector<Token>& toks, size_t begin, size_t end,
                               Defects* defects) {
  if (begin < end && IsSpecialTok(toks[begin], '@')) {  // <@a,@b:joe@x>
    for (size_t i = begin; i < end; ++i) {
      if (IsSpecialTok(toks[i], ':')) {
        begin = i + 1;
        break;
      }
    }
  }
  std::string local, domain;
  bool at = false;
  for (size_t i = begin; i < end; ++i) {
    const Token& t = toks[i];
    if (t.kind == Tok::kComment) continue;
    if (!at && IsSpecialTok(t, '@')) {
      at = true;
      continue;
    }
    std::string piece = t.kind == Tok::kQuoted ? "\"" + t.text + "\"" : t.text;
    (at ? domain : local) += piece;
  }
  if (local.empty() && domain.empty()) return {};
  if (!at) defects->Add(Defect::kMissingAt);
  return at ? JoinAddrSpec(local, domain) : NormalizeLocalPart(local);
}

// Display name from phrase tokens: words joined by one space, encoded words decoded.
std::string PhraseText(const std::vector<Token>& toks, size_t begin, size_t end) {
  std::string phrase;
  for (size_t i = begin; i < end; ++i) {
    const Token& t = toks[i];
    if (t.kind == Tok::kComment) continue;
    if (!phrase.empty() && (t.space_before || t.kind == Tok::kQuoted)) phrase += ' ';
    phrase += t.text;
  }
  return phrase;
}

struct Entry {
  size_t begin, end;  // tokens of one mailbox, separators excluded
};

// Parses one mailbox from its tokens; false when it holds nothing.
bool ParseEntry(const std::vector<Token>& toks, Entry e, Mailbox* mb, Defects* defects) {
  size_t lt = e.end, gt = e.end;
  for (size_t i = e.begin; i < e.end; ++i) {
    if (lt == e.end && IsSpecialTok(toks[i], '<')) lt = i;
    if (lt != e.end && IsSpecialTok(toks[i], '>')) {
      gt = i;
      break;
    }
  }
  std::string comment;
  for (size_t i = e.begin; i < e.end; ++i) {
    if (toks[i].kind == Tok::kComment && comment.empty()) comment = toks[i].text;
  }
  std::string phrase;
  if (lt != e.end) {
    if (gt == e.end) defects->Add(Defect::kUnterminated);
    phrase = PhraseText(toks, e.begin, lt);
    mb->address = AddrSpecFromTokens(toks, lt + 1, gt, defects);
    if (gt != e.end && gt + 1 < e.end) {
      for (size_t i = gt + 1; i < e.end; ++i) {
        if (toks[i].kind != Tok::kComment) defects->Add(Defect::kJunk);
      }
    }
  } else {
    // A bare addr-spec: quoted strings belong to the local part, there is no phrase.
    mb->address = AddrSpecFromTokens(toks, e.begin, e.end, defects);
    if (mb->address.empty()) return false;
  }
  if (phrase.empty()) phrase = comment;
  mb->display_name = DecodeEncodedWords(ascii::Trim(phrase), defects);
  return true;
}

}  // namespace

AddressList ParseAddressList(std::string_view value, size_t max_mailboxes) {
  AddressList out;
  std::string unfolded = Unfold(value);
  std::vector<Token> toks = Tokenize(unfolded, &out.defects);
  size_t start = 0;
  bool in_angle = false;
  auto finish = [&](size_t end) {
    if (start < end) {
      Mailbox mb;
      if (ParseEntry(toks, Entry{start, end}, &mb, &out.defects)) {
        if (out.mailboxes.size() < max_mailboxes) {
          out.mailboxes.push_back(std::move(mb));
        } else {
          out.defects.Add(Defect::kTruncated);
        }
      }
    }
    start = end + 1;
  };
  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (IsSpecialTok(t, '<')) in_angle = true;
    if (IsSpecialTok(t, '>')) in_angle = false;
    if (in_angle) continue;
    if (IsSpecialTok(t, ',') || IsSpecialTok(t, ';')) {
      finish(i);
    } else if (IsSpecialTok(t, ':')) {
      start = i + 1;  // group display name: dropped
    }
  }
  finish(toks.size());
  return out;
}

Mailbox ParseMailbox(std::string_view value, Defects* defects) {
  AddressList list = ParseAddressList(value, 1);
  if (defects) defects->Merge(list.defects);
  return list.mailboxes.empty() ? Mailbox{} : list.mailboxes.front();
}

namespace {

std::string DomainOf(const std::string& address) {
  size_t at = address.rfind('@');
  if (at == std::string::npos || at + 1 >= address.size()) return {};
  std::string d = address.substr(at + 1);
  while (!d.empty() && d.back() == '.') d.pop_back();
  for (char& c : d)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return d;
}

// Domains of every <...> address in the value, also those an entry carries as junk.
std::vector<std::string> AngleDomains(std::string_view value) {
  std::vector<std::string> out;
  std::string unfolded = Unfold(value);
  Defects scratch;
  std::vector<Token> toks = Tokenize(unfolded, &scratch);
  for (size_t i = 0; i < toks.size(); ++i) {
    if (!IsSpecialTok(toks[i], '<')) continue;
    size_t j = i + 1;
    while (j < toks.size() && !IsSpecialTok(toks[j], '>')) ++j;
    std::string d = DomainOf(AddrSpecFromTokens(toks, i + 1, j, &scratch));
    if (!d.empty()) out.push_back(std::move(d));
    i = j;
  }
  return out;
}

}  // namespace

const Mailbox& Author::mailbox() const {
  static const Mailbox kNone;
  for (const Mailbox& m : mailboxes)
    if (!DomainOf(m.address).empty()) return m;
  return mailboxes.empty() ? kNone : mailboxes.front();
}

Author ParseAuthor(const std::vector<std::string_view>& from_values, size_t max_mailboxes) {
  Author a;
  a.fields = from_values.size();
  size_t with_domain = 0;
  auto add_domain = [&](std::string d) {
    for (const auto& have : a.domains)
      if (have == d) return;
    a.domains.push_back(std::move(d));
  };
  for (std::string_view v : from_values) {
    AddressList list = ParseAddressList(v, max_mailboxes);
    a.defects.Merge(list.defects);
    for (Mailbox& m : list.mailboxes) {
      std::string d = DomainOf(m.address);
      if (!d.empty()) {
        ++with_domain;
        add_domain(d);
      }
      if (a.mailboxes.size() < max_mailboxes) a.mailboxes.push_back(std::move(m));
    }
    for (std::string& d : AngleDomains(v)) {
      size_t before = a.domains.size();
      add_domain(std::move(d));
      if (a.domains.size() != before) ++with_domain;  // an address no mailbox accounts for
    }
  }
  a.single = a.fields == 1 && with_domain == 1;
  return a;
}

std::string NormalizeEnvelopeAddress(std::string_view arg) {
  std::string_view a = ascii::Trim(arg);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  if (!a.empty() && a.front() == '@') {  // source route "@a,@b:user@x"
    size_t colon = a.find(':');
    a = colon == std::string_view::npos ? std::string_view() : a.substr(colon + 1);
  }
  if (a.empty()) return {};
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0) return NormalizeLocalPart(a);
  return JoinAddrSpec(a.substr(0, at), a.substr(at + 1));
}

}  // namespace threadmill::mail
