// mime.cc - MIME walking on top of mimetic (see mime.h for what mimetic does and does not do).
#include "mail/mime.h"

#include <mimetic/mimetic.h>

#include <exception>
#include <memory>

#include "common/ascii.h"
#include "mail/charset.h"
#include "mail/html_text.h"
#include "mail/mime_guard.h"
#include "mail/rfc2047.h"
#include "mail/rfc2231.h"
#include "mail/transfer_encoding.h"

namespace threadmill::mail {
namespace {

using mimetic::MimeEntity;

std::string ToStd(const mimetic::istring& s) { return std::string(s.begin(), s.end()); }

// The raw value of the first header field `name` of a mimetic entity, "" when absent.
bool FieldValue(const MimeEntity& e, std::string_view name, std::string* value) {
  for (const auto& f : e.header()) {
    if (ascii::EqualsIgnoreCase(ToStd(f.name()), name)) {
      *value = f.value();
      return true;
    }
  }
  return false;
}

std::string DecodeTransfer(std::string_view body, std::string_view cte, Defects* defects) {
  std::string enc(ascii::Trim(cte));
  for (char& c : enc) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (enc == "base64") return Base64Decode(body, defects);
  if (enc == "quoted-printable") return QuotedPrintableDecode(body, false, defects);
  if (!enc.empty() && enc != "7bit" && enc != "8bit" && enc != "binary") {
    defects->Add(Defect::kUnknownEncoding);
  }
  return std::string(body);
}

struct PartInfo {
  std::string mime_type;  // "type/subtype", lowercased
  ParameterizedValue type;
  std::string filename;
  std::string cte;
  bool attachment = false;
};

PartInfo Describe(const MimeEntity& e, Defects* defects) {
  PartInfo p;
  std::string v;
  if (FieldValue(e, "Content-Type", &v)) {
    p.type = ParseParameters(v);
    defects->Merge(p.type.defects);
  }
  p.mime_type = p.type.value;
  if (!IsValidUtf8(p.mime_type)) p.mime_type = SanitizeUtf8(p.mime_type, defects);
  if (p.mime_type.find('/') == std::string::npos) {
    if (!p.mime_type.empty()) defects->Add(Defect::kBadParameter);
    p.mime_type = "text/plain";
  }
  ParameterizedValue disp;
  if (FieldValue(e, "Content-Disposition", &v)) {
    disp = ParseParameters(v);
    defects->Merge(disp.defects);
  }
  p.filename = disp.Get("filename");
  if (p.filename.empty()) p.filename = p.type.Get("name");
  FieldValue(e, "Content-Transfer-Encoding", &p.cte);
  bool text_body = p.mime_type == "text/plain" || p.mime_type == "text/html";
  p.attachment = disp.value == "attachment" || !p.filename.empty() || !text_body;
  return p;
}

// CRLF (and lone CR) to LF.
std::string ToLf(std::string s) {
  if (s.find('\r') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\r') {
      out += s[i];
    } else if (i + 1 >= s.size() || s[i + 1] != '\n') {
      out += '\n';
    }
  }
  return out;
}

struct Text {
  std::string text;
  bool html = false;
  bool found = false;
};

// Walks mimetic's tree; collects attachments and text, or finds one part's bytes.
class Walker {
 public:
  Walker(const ParseLimits& limits, ParsedMessage* out) : limits_(limits), out_(out) {}

  // Extraction mode: remember the decoded bytes of the part named `target`.
  void SetTarget(std::string_view target) { target_ = target; }
  bool target_found() const { return target_found_; }
  std::string& target_bytes() { return target_bytes_; }
  const std::vector<std::string>& boundaries() const { return boundaries_; }

  Text Walk(const MimeEntity& e, const std::string& path) {
    if (++parts_ > limits_.max_parts) {
      out_->defects.Add(Defect::kTooComplex);
      return {};
    }
    PartInfo p = Describe(e, &out_->defects);
    if (p.mime_type.starts_with("multipart/")) return Multipart(e, p, path);
    if (p.mime_type == "message/rfc822") {
      p.attachment = true;
      return Leaf(e, p, path.empty() ? "1" : path);
    }
    return Leaf(e, p, path.empty() ? "1" : path);
  }

 private:
  Text Multipart(const MimeEntity& e, const PartInfo& p, const std::string& path) {
    std::string boundary = p.type.Get("boundary");
    if (boundary.empty()) {
      out_->defects.Add(Defect::kMissingBoundary);
      return Leaf(e, PartInfo{"text/plain", {}, {}, {}, false}, path.empty() ? "1" : path);
    }
    boundaries_.push_back(std::move(boundary));
    std::vector<Text> texts;
    size_t i = 0;
    for (const MimeEntity* child : e.body().parts()) {
      std::string child_path = (path.empty() ? "" : path + ".") + std::to_string(++i);
      texts.push_back(Walk(*child, child_path));
    }
    return Combine(p.mime_type, std::move(texts));
  }

  static Text Combine(const std::string& type, std::vector<Text> texts) {
    Text out;
    if (type == "multipart/alternative") {
      for (auto& t : texts) {
        if (t.found && (!out.found || (out.html && !t.html))) out = std::move(t);
      }
      return out;
    }
    if (type == "multipart/related") {
      if (!texts.empty()) out = std::move(texts.front());
      return out;
    }
    for (auto& t : texts) {
      if (!t.found) continue;
      if (out.found && !out.text.empty() && !t.text.empty()) out.text += "\n";
      out.text += t.text;
      out.html = out.html || t.html;
      out.found = true;
    }
    return out;
  }

  Text Leaf(const MimeEntity& e, const PartInfo& p, const std::string& path) {
    std::string bytes;
    if (p.mime_type == "message/rfc822" && !e.body().parts().empty()) {
      MimeEntity& child = *e.body().parts().front();
      child.copy(std::back_inserter(bytes));
    } else {
      bytes = DecodeTransfer(e.body(), p.cte, &out_->defects);
    }
    if (!target_.empty() && path == target_) {
      target_found_ = true;
      target_bytes_ = bytes;
    }
    if (p.attachment) {
      out_->attachments.push_back(Attachment{path, p.filename, p.mime_type, bytes.size()});
      return {};
    }
    Text t;
    t.found = true;
    std::string charset = p.type.Get("charset");
    t.text = charset.empty() ? Unlabelled8bitToUtf8(bytes, &out_->defects)
                             : ToUtf8(bytes, charset, &out_->defects);
    if (p.mime_type == "text/html") {
      t.text = HtmlToText(t.text);
      t.html = true;
    } else {
      t.text = ToLf(std::move(t.text));
    }
    return t;
  }

  const ParseLimits& limits_;
  ParsedMessage* out_;
  size_t parts_ = 0;
  std::vector<std::string> boundaries_;
  std::string target_;
  bool target_found_ = false;
  std::string target_bytes_;
};

// Linear count of "multipart" and "rfc822" (any case): an upper bound of mimetic's recursion.
size_t CountContainers(std::string_view raw) {
  size_t n = 0;
  for (size_t i = 0; i + 6 <= raw.size(); ++i) {
    char c = ascii::ToLower(raw[i]);
    if (c == 'm' && i + 9 <= raw.size()) {
      std::string_view w = raw.substr(i, 9);
      if (ascii::EqualsIgnoreCase(w, "multipart")) ++n;
    } else if (c == 'r' && ascii::EqualsIgnoreCase(raw.substr(i, 6), "rfc822")) {
      ++n;
    }
  }
  return n;
}

// Sets defect unterminated-multipart unless every boundary has a "--b--" line.
void CheckClosingDelimiters(std::string_view raw, const std::vector<std::string>& boundaries,
                            Defects* defects) {
  std::vector<bool> closed(boundaries.size(), false);
  for (size_t pos = 0; pos < raw.size();) {
    size_t nl = raw.find('\n', pos);
    size_t end = nl == std::string_view::npos ? raw.size() : nl;
    std::string_view line = ascii::Trim(raw.substr(pos, end - pos));
    if (line.starts_with("--") && line.ends_with("--") && line.size() >= 4) {
      std::string_view b = line.substr(2, line.size() - 4);
      for (size_t i = 0; i < boundaries.size(); ++i) {
        if (!closed[i] && b == boundaries[i]) closed[i] = true;
      }
    }
    pos = end + 1;
  }
  for (bool c : closed) {
    if (!c) {
      defects->Add(Defect::kUnterminatedMultipart);
      return;
    }
  }
}

// The first "--x" line of a body, as a boundary guess; "" when none.
std::string GuessBoundary(std::string_view body) {
  for (size_t pos = 0; pos < body.size();) {
    size_t nl = body.find('\n', pos);
    size_t end = nl == std::string_view::npos ? body.size() : nl;
    std::string_view line = ascii::Trim(body.substr(pos, end - pos));
    if (line.size() > 2 && line.starts_with("--")) {
      line.remove_prefix(2);
      if (line.ends_with("--")) line.remove_suffix(2);
      if (!line.empty() && line.find('"') == std::string_view::npos) return std::string(line);
    }
    pos = end + 1;
  }
  return {};
}

void FillTopLevel(std::string_view raw, const ParseLimits& limits, ParsedMessage* out,
                  size_t* body_offset) {
  SplitMessageResult split = SplitMessage(raw, limits.header_limits);
  out->headers = std::move(split.headers);
  out->defects.Merge(split.defects);
  *body_offset = split.body_offset;
  if (const HeaderField* f = out->headers.Find("Subject")) {
    out->subject = std::string(ascii::Trim(DecodeEncodedWords(Unfold(f->value), &out->defects)));
  }
  if (const HeaderField* f = out->headers.Find("From")) {
    out->from = ParseMailbox(f->value, &out->defects);
  }
  if (out->headers.Find("MIME-Version") && !out->headers.Find("Content-Type")) {
    out->defects.Add(Defect::kMissingContentType);
  }
}

// What mimetic parses: the message, or (a top-level multipart without boundary) a copy
// re-split on a guessed boundary; then bounded by GuardForMimetic. Views into raw or the
// two buffers.
std::string_view MimeticInput(std::string_view raw, size_t body_offset, const ParseLimits& limits,
                              ParsedMessage* out, std::string* synthesized, std::string* guarded) {
  std::string_view input = raw;
  if (const HeaderField* ct = out->headers.Find("Content-Type")) {
    ParameterizedValue type = ParseParameters(ct->value);
    std::string guess;
    if (type.value.starts_with("multipart/") && type.Get("boundary").empty()) {
      guess = GuessBoundary(raw.substr(body_offset));
    }
    if (!guess.empty()) {
      *synthesized = "Content-Type: " + type.value + "; boundary=\"" + guess + "\"\r\n\r\n";
      synthesized->append(raw.substr(body_offset));
      input = *synthesized;
      out->defects.Add(Defect::kMissingBoundary);
    }
  }
  MimeGuardLimits guard{limits.max_parts, limits.max_part_fields, limits.max_part_field_bytes,
                        limits.max_part_header_bytes};
  return GuardForMimetic(input, guard, guarded, &out->defects);
}

// Shared by ParseMessage and ExtractAttachment.
void Parse(std::string_view raw, const ParseLimits& limits, Walker* walker, ParsedMessage* result) {
  ParsedMessage& out = *result;
  if (raw.size() > limits.max_message_bytes) {
    raw = raw.substr(0, limits.max_message_bytes);
    out.defects.Add(Defect::kTruncated);
  }
  size_t body_offset = 0;
  FillTopLevel(raw, limits, &out, &body_offset);
  Text text;
  if (CountContainers(raw) > limits.max_nested_containers) {
    out.defects.Add(Defect::kTooComplex);
  } else {
    try {
      std::string synthesized, guarded;
      std::string_view input = MimeticInput(raw, body_offset, limits, &out, &synthesized, &guarded);
      // Constructed empty, then loaded: when mimetic throws from inside its iterator
      // constructor, ~MimeEntity never runs and every part already attached leaks (found by
      // fuzz_mime). A fully constructed entity owns and frees them on unwind.
      auto entity = std::make_unique<MimeEntity>();
      entity->load(input.begin(), input.end());
      text = walker->Walk(*entity, "");
      CheckClosingDelimiters(input, walker->boundaries(), &out.defects);
    } catch (const std::exception&) {
      out.defects.Add(Defect::kMimeParseError);
      text = {};
    }
  }
  if (!text.found && out.attachments.empty() && body_offset < raw.size()) {
    text.text = ToLf(Unlabelled8bitToUtf8(raw.substr(body_offset), &out.defects));  // best effort
  }
  out.text = std::move(text.text);
  out.text_from_html = text.html;
  if (out.text.size() > limits.max_text_bytes) {
    out.text.resize(limits.max_text_bytes);
    out.text = SanitizeUtf8(out.text);  // do not leave a cut character
    out.defects.Add(Defect::kTruncated);
  }
}

}  // namespace

ParsedMessage ParseMessage(std::string_view raw, const ParseLimits& limits) {
  ParsedMessage out;
  Walker walker(limits, &out);
  Parse(raw, limits, &walker, &out);
  return out;
}

Result<std::string> ExtractAttachment(std::string_view raw, std::string_view file_id,
                                      const ParseLimits& limits) {
  ParsedMessage scratch;
  Walker walker(limits, &scratch);
  walker.SetTarget(file_id);
  if (!file_id.empty()) Parse(raw, limits, &walker, &scratch);
  if (!walker.target_found()) {
    return MakeError(ErrorCode::kNotFound, "no MIME part " + std::string(file_id));
  }
  return std::move(walker.target_bytes());
}

}  // namespace threadmill::mail
