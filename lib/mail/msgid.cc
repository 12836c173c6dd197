// msgid.cc - msg-id parsing (see msgid.h).
#include "mail/msgid.h"

#include <unordered_set>

#include "mail/addr_spec.h"
#include "mail/charset.h"

namespace threadmill::mail {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Skips a (nested) comment starting at value[pos] == '('; returns the index after it.
size_t SkipComment(std::string_view value, size_t pos, Defects* defects) {
  int depth = 0;
  for (; pos < value.size(); ++pos) {
    char c = value[pos];
    if (c == '\\') {
      ++pos;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return pos + 1;
    }
  }
  defects->Add(Defect::kUnterminated);
  return value.size();
}

// Copies a quoted string starting at value[pos] == '"' (quotes and quoted-pairs kept, line
// breaks dropped); returns the index after it.
size_t CopyQuoted(std::string_view value, size_t pos, std::string* out, Defects* defects) {
  *out += '"';
  for (++pos; pos < value.size(); ++pos) {
    char c = value[pos];
    if (c == '\\' && pos + 1 < value.size()) {
      char next = value[++pos];
      if (next == '\r' || next == '\n' || next == '\0') continue;  // not a quoted-pair
      *out += c;
      *out += next;
    } else if (c == '"') {
      *out += c;
      return pos + 1;
    } else if (c != '\r' && c != '\n' && c != '\0') {
      *out += c;
    }
  }
  *out += '"';
  defects->Add(Defect::kUnterminated);
  return pos;
}

// Reads <...> starting at value[pos] == '<'; CFWS inside is removed. Returns the index after
// the closing '>' (or the end; *closed false).
size_t ReadBracketed(std::string_view value, size_t pos, std::string* content, Defects* defects,
                     bool* closed) {
  content->clear();
  *closed = true;
  for (++pos; pos < value.size();) {
    char c = value[pos];
    if (c == '>') return pos + 1;
    if (IsBlank(c)) {
      ++pos;
    } else if (c == '(') {
      pos = SkipComment(value, pos, defects);
    } else if (c == '"') {
      pos = CopyQuoted(value, pos, content, defects);
    } else if (c == '<') {  // "<<id@x>" or "<junk <id@x>": restart at the inner bracket
      if (!content->empty()) defects->Add(Defect::kJunk);
      content->clear();
      ++pos;
    } else {
      *content += c;
      ++pos;
    }
  }
  defects->Add(Defect::kUnterminated);
  *closed = false;
  return pos;
}

// Reads a bare word (up to blank, '<' or '('), quoted strings included; *angle is set when
// a '>' stands outside its quoted strings.
size_t ReadWord(std::string_view value, size_t pos, std::string* word, bool* angle,
                Defects* defects) {
  word->clear();
  *angle = false;
  while (pos < value.size()) {
    char c = value[pos];
    if (IsBlank(c) || c == '<' || c == '(') break;
    if (c == '"') {
      pos = CopyQuoted(value, pos, word, defects);
    } else {
      *angle = *angle || c == '>';
      *word += c;
      ++pos;
    }
  }
  return pos;
}

// A bare word is used as an id when it has an '@' between other characters.
bool UsableBare(std::string_view word) {
  size_t at = word.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < word.size();
}

MsgIdList Parse(std::string_view value, size_t max_ids, bool single, bool check);

// Normalization must be stable: the normalized id, parsed again in brackets (and bare when
// it would be used bare), gives itself. Ids for which it does not (quotes unbalanced across
// the '@' of a broken id) are dropped as junk, so a stored id is always found again.
bool Stable(const std::string& id) {
  MsgIdList again = Parse(FormatMsgId(id), 1, true, /*check=*/false);
  if (again.ids.size() != 1 || again.ids[0] != id) return false;
  if (!UsableBare(id)) return true;
  again = Parse(id, 1, true, /*check=*/false);
  return again.ids.size() == 1 && again.ids[0] == id;
}

// Turns the content of one id into its normalized form; false when unusable.
bool NormalizeId(std::string content, std::string* out, bool check, Defects* defects) {
  if (content.find('\0') != std::string::npos) {
    defects->Add(Defect::kNulByte);
    std::erase(content, '\0');
  }
  if (content.empty()) {
    defects->Add(Defect::kJunk);
    return false;
  }
  for (char c : content) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      defects->Add(Defect::kEightBit);
      if (!IsValidUtf8(content)) defects->Add(Defect::kInvalidUtf8);
      break;
    }
  }
  size_t at = content.rfind('@');
  if (at == std::string::npos) {
    defects->Add(Defect::kMissingAt);
    *out = std::move(content);
  } else if (at == 0 || at + 1 == content.size()) {
    defects->Add(Defect::kJunk);  // "@x" or "x@": keep verbatim, still matchable
    *out = std::move(content);
  } else {
    std::string_view v(content);
    *out = JoinAddrSpec(v.substr(0, at), v.substr(at + 1));
  }
  if (out->size() > kMaxMsgIdBytes) {
    defects->Add(Defect::kTooLong);
    return false;
  }
  if (check && !Stable(*out)) {
    defects->Add(Defect::kJunk);
    return false;
  }
  return true;
}

// Collects ids; stops after max_ids. `single` records extra ids as junk instead of truncated.
MsgIdList Parse(std::string_view value, size_t max_ids, bool single, bool check) {
  MsgIdList out;
  std::unordered_set<std::string> seen;
  std::vector<std::string> bare;  // used only when no bracketed id is found
  std::string token, id;
  bool bracketed_seen = false;
  auto add = [&](std::string norm) {
    ++out.listed;
    if (!seen.insert(norm).second) {
      out.defects.Add(Defect::kDuplicateId);
      return;
    }
    out.ids.push_back(std::move(norm));
  };
  size_t pos = 0;
  while (pos < value.size()) {
    if (out.ids.size() >= max_ids) {
      out.defects.Add(single ? Defect::kJunk : Defect::kTruncated);
      break;
    }
    char c = value[pos];
    if (IsBlank(c)) {
      ++pos;
    } else if (c == '(') {
      pos = SkipComment(value, pos, &out.defects);
    } else if (c == '<') {
      bool complete = true;
      pos = ReadBracketed(value, pos, &token, &out.defects, &complete);
      bracketed_seen = true;
      if (NormalizeId(std::move(token), &id, check, &out.defects)) {
        add(std::move(id));
        if (!complete) --out.listed;  // cut by a relay: looked up, not counted
      }
    } else {
      bool angle = false;
      pos = ReadWord(value, pos, &token, &angle, &out.defects);
      if (token.empty()) {  // a stray character ReadWord does not take
        ++pos;
        continue;
      }
      if (UsableBare(token) && !bracketed_seen && !angle) {
        if (bare.size() < max_ids) {  // more could never be used (memory stays bounded)
          bare.push_back(std::move(token));
        } else {
          out.defects.Add(single ? Defect::kJunk : Defect::kTruncated);
        }
      } else {
        out.defects.Add(Defect::kJunk);
      }
    }
  }
  if (!bare.empty()) {
    if (bracketed_seen) {
      out.defects.Add(Defect::kJunk);
    } else {
      out.defects.Add(Defect::kMissingAngleBrackets);
      for (auto& word : bare) {
        if (out.ids.size() >= max_ids) {
          out.defects.Add(single ? Defect::kJunk : Defect::kTruncated);
          break;
        }
        if (NormalizeId(std::move(word), &id, check, &out.defects)) add(std::move(id));
      }
    }
  }
  return out;
}

}  // namespace

MsgIdList ParseMsgIdList(std::string_view value, size_t max_ids) {
  return Parse(value, max_ids, /*single=*/false, /*check=*/true);
}

MsgId ParseMsgId(std::string_view value) {
  MsgIdList list = Parse(value, 1, /*single=*/true, /*check=*/true);
  MsgId out;
  out.defects = list.defects;
  if (!list.ids.empty()) out.id = std::move(list.ids.front());
  return out;
}

std::string FormatMsgId(std::string_view normalized) {
  std::string out;
  out.reserve(normalized.size() + 2);
  out += '<';
  out += normalized;
  out += '>';
  return out;
}

}  // namespace threadmill::mail
