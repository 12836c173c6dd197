// reply_text.h - the new part of a reply: the text without quoted history and signature.
//
// DESCRIPTION
//   Cuts the text at the first line that starts quoted history or a signature: a "-- "
//   signature delimiter, an attribution line ("On ... wrote:", "... schrieb:",
//   "... a écrit :", "... escribió:"), a quoted line ("> ..."), an "-----Original
//   Message-----" style separator, or an Outlook rule of underscores. Trailing blank lines are
//   removed.
//
// LIMITS
//   A heuristic: top-posted replies are handled; bottom-posted or interleaved ones keep only
//   the text before the first quote. Replace with mail::StripQuotedReply when lib/mail offers
//   it. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::runtime {

std::string StripQuotedReply(std::string_view text);

}  // namespace threadmill::runtime
