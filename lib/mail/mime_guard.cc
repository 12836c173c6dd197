// mime_guard.cc - bounding mimetic's input (see mime_guard.h).
#include "mail/mime_guard.h"

#include <vector>

#include "common/ascii.h"
#include "mail/header.h"
#include "mail/rfc2231.h"

namespace threadmill::mail {
namespace {

constexpr size_t kMaxBoundaries = 64;

struct Line {
  size_t begin, end, next;  // [begin, end) without the line end; next line at `next`
};

// Lines end at LF, CRLF or a lone CR (mimetic takes a lone CR as a line end too).
Line NextLine(std::string_view raw, size_t pos) {
  size_t e = raw.find_first_of("\r\n", pos);
  if (e == std::string_view::npos) return {pos, raw.size(), raw.size()};
  size_t next = e + 1;
  if (raw[e] == '\r' && next < raw.size() && raw[next] == '\n') ++next;
  return {pos, e, next};
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameChar(char c) { return c > 32 && c < 127 && c != ':'; }

// The copy, made only once something is cut.
class Output {
 public:
  Output(std::string_view raw, std::string* storage) : raw_(raw), storage_(storage) {}
  // Keeps raw[from, to) (lines are visited in order).
  void Keep(size_t from, size_t to) {
    if (modified_) storage_->append(raw_.substr(from, to - from));
  }
  // Called before the first piece that is not kept whole: copies what was kept so far.
  void Modify(size_t kept_until) {
    if (modified_) return;
    modified_ = true;
    storage_->assign(raw_.substr(0, kept_until));
  }
  std::string_view Result() const { return modified_ ? std::string_view(*storage_) : raw_; }

 private:
  std::string_view raw_;
  std::string* storage_;
  bool modified_ = false;
};

class Guard {
 public:
  Guard(std::string_view raw, const MimeGuardLimits& limits, std::string* storage, Defects* defects)
      : raw_(raw), limits_(limits), out_(raw, storage), defects_(defects) {}

  std::string_view Run() {
    StartBlock();
    for (size_t pos = 0; pos < raw_.size();) {
      Line line = NextLine(raw_, pos);
      bool go_on = in_header_ ? HeaderLine(line) : BodyLine(line);
      if (!go_on) break;
      pos = line.next;
    }
    return out_.Result();
  }

 private:
  void StartBlock() {
    in_header_ = true;
    fields_ = 0;
    block_bytes_ = 0;
    field_open_ = false;
    dropping_ = false;
    rfc822_ = false;
  }

  // Ends the open field: a Content-Type gives a boundary or marks message/rfc822.
  void EndField() {
    if (field_open_ && is_content_type_) {
      ParameterizedValue ct = ParseParameters(content_type_);
      if (ct.value == "message/rfc822") rfc822_ = true;
      std::string b = ct.Get("boundary");
      if (!b.empty() && boundaries_.size() < kMaxBoundaries) boundaries_.push_back(std::move(b));
    }
    field_open_ = false;
    content_type_.clear();
  }

  // Keeps a header line, cut so that the open field stays within max_field_bytes.
  void KeepHeaderText(const Line& line) {
    size_t len = line.end - line.begin;
    size_t room = limits_.max_field_bytes - std::min(field_bytes_, limits_.max_field_bytes);
    if (is_content_type_) content_type_.append(raw_.substr(line.begin, std::min(len, room)));
    if (len <= room) {
      field_bytes_ += len;
      out_.Keep(line.begin, line.next);
      return;
    }
    defects_->Add(Defect::kHeaderTooLong);
    out_.Modify(line.begin);
    out_.Keep(line.begin, line.begin + room);
    out_.Keep(line.end, line.next);
    field_bytes_ = limits_.max_field_bytes;
    dropping_ = true;  // its further folded lines go
  }

  void Drop(const Line& line) {
    defects_->Add(Defect::kHeaderTooLong);
    out_.Modify(line.begin);
  }

  bool HeaderLine(const Line& line) {
    std::string_view text = raw_.substr(line.begin, line.end - line.begin);
    if (text.empty()) {  // end of the header block
      EndField();
      out_.Keep(line.begin, line.next);
      if (rfc822_) {
        StartBlock();  // the embedded message's own header follows
      } else {
        in_header_ = false;
      }
      return true;
    }
    block_bytes_ += text.size();
    if (IsBlank(text.front())) {  // folded line of the open field
      if (dropping_) {
        Drop(line);
      } else {
        KeepHeaderText(line);
      }
      return true;
    }
    EndField();
    size_t n = 0;
    while (n < text.size() && IsNameChar(text[n])) ++n;
    size_t colon = n;
    while (colon < text.size() && IsBlank(text[colon])) ++colon;
    if (n == 0 || colon >= text.size() || text[colon] != ':') {
      // Not a field: mimetic ends the header here; the line is body (its name-like start
      // still goes through mimetic's header buffer, hence the cut).
      field_bytes_ = 0;
      is_content_type_ = false;
      dropping_ = false;
      KeepHeaderText(line);
      in_header_ = false;
      return true;
    }
    ++fields_;
    field_open_ = true;
    field_bytes_ = 0;
    is_content_type_ = ascii::EqualsIgnoreCase(text.substr(0, n), "Content-Type");
    dropping_ = fields_ > limits_.max_fields || block_bytes_ > limits_.max_header_bytes;
    if (dropping_) {
      field_open_ = false;
      is_content_type_ = false;
      Drop(line);
    } else {
      KeepHeaderText(line);
      if (is_content_type_) content_type_.erase(0, std::min(content_type_.size(), colon + 1));
    }
    return true;
  }

  bool IsDelimiter(std::string_view text, bool* closing) const {
    if (!text.starts_with("--")) return false;
    std::string_view rest = text.substr(2);
    for (const auto& b : boundaries_) {
      if (!rest.starts_with(b)) continue;
      *closing = rest.substr(b.size()).starts_with("--");
      return true;
    }
    return false;
  }

  bool BodyLine(const Line& line) {
    std::string_view text = raw_.substr(line.begin, line.end - line.begin);
    bool closing = false;
    if (!boundaries_.empty() && IsDelimiter(text, &closing) && !closing) {
      if (++parts_ > limits_.max_parts) {
        defects_->Add(Defect::kTooComplex);
        out_.Modify(line.begin);  // the message ends before this part
        return false;
      }
      out_.Keep(line.begin, line.next);
      StartBlock();
      return true;
    }
    out_.Keep(line.begin, line.next);
    return true;
  }

  std::string_view raw_;
  const MimeGuardLimits& limits_;
  Output out_;
  Defects* defects_;
  std::vector<std::string> boundaries_;
  size_t parts_ = 0;
  bool in_header_ = true;
  size_t fields_ = 0, block_bytes_ = 0, field_bytes_ = 0;
  bool field_open_ = false, dropping_ = false, rfc822_ = false, is_content_type_ = false;
  std::string content_type_;
};

}  // namespace

std::string_view GuardForMimetic(std::string_view raw, const MimeGuardLimits& limits,
                                 std::string* storage, Defects* defects) {
  Guard guard(raw, limits, storage, defects);
  return guard.Run();
}

}  // namespace threadmill::mail
