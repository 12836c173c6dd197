// reply_text.cc - quoted history removal (see reply_text.h).
#include "mail/reply_text.h"

#include <algorithm>
#include <vector>

#include "common/ascii.h"
#include "mail/header.h"

namespace threadmill::mail {
namespace {

using Lines = std::vector<std::string_view>;

Lines SplitLines(std::string_view text) {
  Lines lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines;
}

bool IsBlank(std::string_view line) { return ascii::Trim(line).empty(); }

bool IsQuoted(std::string_view line) {
  size_t i = line.find_first_not_of(' ');
  return i != std::string_view::npos && line[i] == '>';
}

bool StartsWithAny(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return s.starts_with(p); });
}

// "On <date>, <name> wrote:" and its translations, on one (already joined) line.
bool IsAttributionText(std::string_view raw) {
  std::string_view line = ascii::Trim(raw);
  if (line.size() < 8 || line.size() > 400 || line.back() != ':') return false;
  struct Form {
    std::string_view start, word;
  };
  static constexpr Form kForms[] = {
      {"On ", "wrote"},      {"Am ", "schrieb"},      {"Le ", "crit"},     {"El ", "escribi"},
      {"Il ", "ha scritto"}, {"Op ", "schreef"},      {"Em ", "escreveu"}, {"W dniu ", "pisze"},
      {"Den ", "skrev"},     {"P\xC3\xA5 ", "skrev"}, {"On ", "writes"},
  };
  return std::any_of(std::begin(kForms), std::end(kForms), [&](const Form& f) {
    return line.starts_with(f.start) && line.find(f.word) != std::string_view::npos;
  });
}

// Lines the attribution at i spans (1, or 2 for Gmail's wrapped form), 0 if none.
size_t AttributionSpan(const Lines& lines, size_t i) {
  if (IsAttributionText(lines[i])) return 1;
  if (i + 1 < lines.size() && !IsBlank(lines[i + 1])) {
    std::string joined = std::string(lines[i]) + " " + std::string(lines[i + 1]);
    std::string_view first = ascii::Trim(lines[i]);
    if (first.size() < 200 && IsAttributionText(joined)) return 2;
  }
  return 0;
}

bool IsOriginalMessageMarker(std::string_view raw) {
  std::string_view line = ascii::Trim(raw);
  if (!line.starts_with("--")) return false;
  size_t b = line.find_first_not_of("- "), e = line.find_last_not_of("- ");
  if (b == std::string_view::npos) return false;
  std::string words = ascii::ToLower(line.substr(b, e - b + 1));
  static constexpr std::string_view kMarkers[] = {
      "original message",          "urspr\xC3\xBCngliche nachricht",
      "message d'origine",         "mensaje original",
      "messaggio originale",       "oorspronkelijk bericht",
      "mensagem original",         "forwarded message",
      "weitergeleitete nachricht",
  };
  return std::any_of(std::begin(kMarkers), std::end(kMarkers),
                     [&](std::string_view m) { return words == m; });
}

// Outlook's "From: / Sent: / To: / Subject:" block starting at line i.
bool IsOutlookHeaderBlock(const Lines& lines, size_t i) {
  std::string_view first = ascii::Trim(lines[i]);
  if (!StartsWithAny(first, {"From:", "Von:", "De :", "De:", "Da:", "Van:", "Fra:", "Od:"})) {
    return false;
  }
  bool sent = false, subject = false;
  for (size_t k = i + 1; k < lines.size() && k <= i + 6; ++k) {
    std::string_view l = ascii::Trim(lines[k]);
    sent = sent || StartsWithAny(l, {"Sent:", "Date:", "Gesendet:", "Datum:", "Envoy\xC3\xA9 :",
                                     "Enviado:", "Inviato:", "Verzonden:", "Sendt:"});
    subject = subject || StartsWithAny(l, {"Subject:", "Betreff:", "Objet :", "Asunto:", "Oggetto:",
                                           "Onderwerp:", "Assunto:", "Emne:"});
  }
  return sent && subject;
}

bool IsRule(std::string_view line) {
  std::string_view l = ascii::Trim(line);
  return l.size() >= 10 && l.find_first_not_of('_') == std::string_view::npos;
}

// True when lines [from, end) hold only quoted and blank lines.
bool OnlyQuotedFrom(const Lines& lines, size_t from) {
  return std::all_of(lines.begin() + static_cast<std::ptrdiff_t>(std::min(from, lines.size())),
                     lines.end(), [](std::string_view l) { return IsBlank(l) || IsQuoted(l); });
}

// First line of top-posted history; marks attribution lines above inline quotes in `drop`.
size_t FindHistory(const Lines& lines, std::vector<bool>* drop) {
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsQuoted(lines[i])) continue;
    if (IsOriginalMessageMarker(lines[i]) || IsOutlookHeaderBlock(lines, i)) return i;
    if (IsRule(lines[i]) && i + 1 < lines.size() && IsOutlookHeaderBlock(lines, i + 1)) return i;
    size_t span = AttributionSpan(lines, i);
    if (span == 0) continue;
    if (OnlyQuotedFrom(lines, i + span)) return i;
    size_t next = i + span;
    while (next < lines.size() && IsBlank(lines[next])) ++next;
    if (next < lines.size() && IsQuoted(lines[next])) {
      for (size_t k = i; k < i + span; ++k) (*drop)[k] = true;
    }
    i += span - 1;
  }
  return lines.size();
}

// Index of the signature separator before `end`, or `end`.
size_t FindSignature(const Lines& lines, size_t end) {
  for (size_t i = 0; i < end; ++i) {
    if (lines[i] == "-- ") return i;
    if (lines[i] == "--" && end - i <= 11) return i;
  }
  return end;
}

std::string JoinTrimmed(const Lines& lines, size_t end, const std::vector<bool>& drop) {
  std::string out;
  bool started = false;
  size_t pending_blank = 0;
  for (size_t i = 0; i < end; ++i) {
    if (drop[i] || IsQuoted(lines[i])) continue;
    if (IsBlank(lines[i])) {
      pending_blank += started ? 1 : 0;
      continue;
    }
    for (; pending_blank > 0; --pending_blank) out += '\n';
    if (started) out += '\n';
    out += lines[i];
    started = true;
  }
  return out;
}

}  // namespace

std::string StripQuotedReply(std::string_view text) {
  Lines lines = SplitLines(text);
  std::vector<bool> drop(lines.size(), false);
  size_t end = FindHistory(lines, &drop);
  end = FindSignature(lines, end);
  std::string out = JoinTrimmed(lines, end, drop);
  if (!out.empty()) return out;
  std::string original;  // fall back: the original text, trimmed, LF line ends
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) original += '\n';
    original += lines[i];
  }
  return std::string(ascii::Trim(original));
}

}  // namespace threadmill::mail
