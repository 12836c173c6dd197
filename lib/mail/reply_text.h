// reply_text.h - the new text of a reply, without quoted history and signature.
//
// DESCRIPTION
//   StripQuotedReply removes from a plain-text reply (LF or CRLF line ends):
//   - everything from a top-posting history marker on: Outlook "-----Original Message-----"
//     (and its German, French, Spanish, Italian, Dutch, Portuguese forms), an Outlook
//     "From: ... / Sent: ..." header block (also after a "____" rule), and an attribution
//     line ("On <date>, <name> wrote:", Gmail's two-line variant, Apple Mail's "On <date>, at
//     <time>, <name> wrote:", German "Am ... schrieb ...:", French "Le ... a écrit :", Spanish
//     "El ... escribió:", Italian "Il ... ha scritto:", Dutch "Op ... schreef ...:",
//     Portuguese "Em ... escreveu:", Polish "W dniu ... pisze:", Scandinavian "Den ... skrev
//     ...:") when nothing but quoted lines or blank lines follow it;
//   - lines quoted with '>' anywhere (inline answers between them are kept), and an
//     attribution line directly above quoted lines;
//   - the signature after a "-- " line (RFC 3676), or after "--" when at most 10 lines follow.
//   Trailing blank lines are trimmed; line ends become LF.
//
// STANDARDS
//   RFC 3676 section 4.3 (signature separator), RFC 3676/2646 quoting with '>'; the rest is
//   what common clients write.
//
// LIMITS
//   Conservative: when no marker is recognized the text is kept. An attribution followed by
//   unquoted text (some clients do not quote history) is cut only for the Outlook markers.
//   If stripping leaves nothing, the original text (trimmed) is returned. Heuristic: a line
//   of the user's own text that looks like "On ... wrote:" above quoted text is removed.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::mail {

std::string StripQuotedReply(std::string_view text);

}  // namespace threadmill::mail
