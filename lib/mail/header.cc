// header.cc - RFC 5322 header fields (see header.h).
#include "mail/header.h"

#include <algorithm>

#include "common/ascii.h"

namespace threadmill::mail {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// One physical line of the header block: [begin, end) without its line break, next = start
// of the following line.
struct Line {
  size_t begin, end, next;
};

Line NextLine(std::string_view raw, size_t pos) {
  size_t nl = raw.find('\n', pos);
  if (nl == std::string_view::npos) return {pos, raw.size(), raw.size()};
  size_t end = nl;
  if (end > pos && raw[end - 1] == '\r') --end;
  return {pos, end, nl + 1};
}

// Valid field name: printable ASCII except colon (RFC 5322 ftext), non-empty.
bool IsFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

// Splits "Name: value" or obsolete "Name  : value"; false when it is no header line.
bool SplitFieldLine(std::string_view line, std::string_view* name, std::string_view* value) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view n = line.substr(0, colon);
  while (!n.empty() && IsWsp(n.back())) n.remove_suffix(1);
  if (!IsFieldName(n)) return false;
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && IsWsp(v.front())) v.remove_prefix(1);
  *name = n;
  *value = v;
  return true;
}

}  // namespace

std::string Unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      if (i + 2 >= value.size() || IsWsp(value[i + 2])) {
        ++i;  // drop CRLF before WSP or at the end
        continue;
      }
    } else if (c == '\n' && (i + 1 >= value.size() || IsWsp(value[i + 1]))) {
      continue;  // drop LF before WSP or at the end
    }
    out += c;
  }
  return out;
}

std::string StripComments(std::string_view value, Defects* defects) {
  std::string out;
  out.reserve(value.size());
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && (quoted || depth > 0)) {
      if (depth == 0) {
        out += c;
        if (i + 1 < value.size()) out += value[i + 1];
      }
      ++i;  // quoted-pair: the next character is literal
      continue;
    }
    if (depth == 0 && c == '"') quoted = !quoted;
    if (!quoted && c == '(') {
      if (depth++ == 0) out += ' ';
      continue;
    }
    if (!quoted && depth > 0 && c == ')') {
      --depth;
      continue;
    }
    if (depth == 0) out += c;
  }
  if ((depth > 0 || quoted) && defects) defects->Add(Defect::kUnterminated);
  return out;
}

void HeaderList::Append(std::string name, std::string value) {
  fields_.push_back(HeaderField{std::move(name), std::move(value)});
}

const HeaderField* HeaderList::Find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (ascii::EqualsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

std::vector<const HeaderField*> HeaderList::FindAll(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const auto& f : fields_) {
    if (ascii::EqualsIgnoreCase(f.name, name)) out.push_back(&f);
  }
  return out;
}

size_t HeaderList::Count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(fields_.begin(), fields_.end(), [&](const auto& f) {
    return ascii::EqualsIgnoreCase(f.name, name);
  }));
}

namespace {

// Accumulates one field and its continuation lines, enforcing the caps.
class FieldBuilder {
 public:
  FieldBuilder(SplitMessageResult* out, const SplitLimits& limits) : out_(out), limits_(limits) {}

  void Start(std::string_view name, std::string_view value) {
    Flush();
    open_ = true;
    name_.assign(name);
    value_.clear();
    AppendValue(value);
  }
  // False when no field is open (a continuation line at the top of the block).
  bool Continue(std::string_view raw_line_with_break) {
    if (open_) AppendValue(raw_line_with_break);
    return open_;
  }
  void Flush() {
    if (!open_) return;
    open_ = false;
    size_t cost = name_.size() + value_.size() + 2;
    if (out_->headers.size() >= limits_.max_fields || stored_ + cost > limits_.max_header_bytes) {
      out_->defects.Add(Defect::kHeaderTooLong);
      return;
    }
    stored_ += cost;
    out_->headers.Append(std::move(name_), std::move(value_));
  }

 private:
  void AppendValue(std::string_view s) {
    if (value_.size() + s.size() > limits_.max_field_bytes) {
      out_->defects.Add(Defect::kHeaderTooLong);
      s = s.substr(0, limits_.max_field_bytes - std::min(value_.size(), limits_.max_field_bytes));
    }
    value_.append(s);
  }

  SplitMessageResult* out_;
  const SplitLimits& limits_;
  bool open_ = false;
  std::string name_, value_;
  size_t stored_ = 0;
};

}  // namespace

SplitMessageResult SplitMessage(std::string_view raw, const SplitLimits& limits) {
  SplitMessageResult out;
  FieldBuilder field(&out, limits);
  size_t pos = 0;
  if (raw.starts_with("From ")) pos = NextLine(raw, 0).next;  // mbox separator
  while (pos < raw.size()) {
    Line line = NextLine(raw, pos);
    std::string_view text = raw.substr(line.begin, line.end - line.begin);
    if (text.empty()) {  // the blank line ending the header block
      field.Flush();
      out.body_offset = line.next;
      return out;
    }
    std::string_view name, value;
    if (IsWsp(text.front())) {
      // Continuation: keep the line break that preceded it, as received.
      size_t brk = line.begin;
      while (brk > 0 && (raw[brk - 1] == '\n' || raw[brk - 1] == '\r') && line.begin - brk < 2) {
        --brk;
      }
      if (!field.Continue(raw.substr(brk, line.end - brk))) {
        out.defects.Add(Defect::kBadHeaderLine);
      }
    } else if (SplitFieldLine(text, &name, &value)) {
      field.Start(name, value);
    } else {
      field.Flush();
      out.defects.Add(Defect::kMissingBlankLine);
      out.body_offset = line.begin;
      return out;
    }
    pos = line.next;
  }
  field.Flush();
  out.body_offset = raw.size();
  return out;
}

}  // namespace threadmill::mail
