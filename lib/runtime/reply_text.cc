#include "runtime/reply_text.h"

#include <vector>

namespace threadmill::runtime {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool StartsHistory(std::string_view raw_line) {
  if (raw_line == "-- " || raw_line == "-- \r") return true;
  std::string_view line = TrimRight(raw_line);
  if (!line.empty() && line.front() == '>') return true;
  if (EndsWith(line, "wrote:") || EndsWith(line, "schrieb:") || EndsWith(line, "a écrit :") ||
      EndsWith(line, "a écrit:") || EndsWith(line, "escribió:") || EndsWith(line, "scritto:")) {
    return line.size() < 300;
  }
  if (line.rfind("-----", 0) == 0 && EndsWith(line, "-----") && line.size() > 15) return true;
  if (line.size() >= 20 && line.find_first_not_of('_') == std::string_view::npos) return true;
  return false;
}

}  // namespace

std::string StripQuotedReply(std::string_view text) {
  std::vector<std::string_view> kept;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (StartsHistory(line)) break;
    kept.push_back(line);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  while (!kept.empty() && TrimRight(kept.back()).empty()) kept.pop_back();
  std::string out;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i) out += '\n';
    out += TrimRight(kept[i]);
  }
  return out;
}

}  // namespace threadmill::runtime
