// mime.h - a parsed message for handlers: headers, subject, sender, best text, attachments.
//
// DESCRIPTION
//   ParseMessage walks the MIME tree and returns what a reply handler needs: the top-level
//   headers, the decoded Subject and From, the best plain text (text/plain preferred; else
//   text/html reduced to text), and a list of attachments with decoded sizes. Attachments are
//   named by their part path ("1", "2.1", IMAP style) in file_id; ExtractAttachment returns the
//   decoded bytes of one of them from the same raw message.
//
//   Text selection: multipart/alternative takes its text/plain child, else its html child;
//   multipart/related uses its root (first) part; multipart/mixed and others concatenate the
//   text of their inline text parts. Parts with Content-Disposition attachment, a filename,
//   or a non-text type are attachments; message/rfc822 is an attachment, not descended into.
//
// STANDARDS
//   RFC 2045 (MIME headers, transfer encodings), RFC 2046 (media types, multipart),
//   RFC 2047 (encoded words), RFC 2183 (Content-Disposition), RFC 2231 (parameters),
//   RFC 5322 (message format).
//
// HOW mimetic IS USED, AND WHERE IT IS NOT
//   mimetic (libmimetic) splits the multipart tree: it copes with LF-only line ends,
//   unterminated parts (the part runs to the end), nested boundaries, preambles/epilogues and
//   long lines, in linear time. It is not used for what it lacks or gets wrong:
//   - headers: RFC 2047/2231 decoding is ours (rfc2047.h, rfc2231.h), as is the top-level
//     header block (header.h), so caps and defects apply;
//   - transfer decoding: ours (transfer_encoding.h), lenient with defects;
//   - charsets: ours (charset.h, iconv);
//   - defects: mimetic reports none; missing boundary and missing closing delimiter are
//     detected here, and a top-level multipart without a boundary is re-split on a guessed
//     boundary (the first "--x" line of the body);
//   - recursion: mimetic recurses once per nested multipart or message/rfc822, which a
//     crafted message could use to overflow the stack; a linear pre-scan counts those
//     media types and skips mimetic over max_nested_containers (defect too-complex, body
//     kept as text);
//   - cost: mimetic copies a header field's buffer on every 128 bytes it grows (quadratic)
//     and builds every part before we can count them, so what it is given is bounded first
//     (mime_guard.h): part header fields, fields per part and bytes per part header, parts;
//   - exceptions: any exception from mimetic becomes defect mime-parse-error and the
//     undecoded body is used as text.
//
// LIMITS
//   The message is cut at max_message_bytes (defect truncated); parts past max_parts are
//   ignored (too-complex); text is cut at max_text_bytes. Nesting depth is at most
//   max_nested_containers (it bounds their total count). A part header field is cut at
//   max_part_field_bytes, fields past max_part_fields or past max_part_header_bytes of one
//   header block are ignored (header-too-long), MIME parameters are capped as rfc2231.h
//   says. These are constants (ParseLimits defaults), far above real mail. Linear time. The size of
//   a message/rfc822 attachment is that of mimetic's re-serialization of it. No S/MIME, no TNEF, no
//   uuencode. HTML charset comes from Content-Type only (no <meta> sniffing). Never throws on
//   content.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mail/address.h"
#include "mail/defects.h"
#include "mail/header.h"

namespace threadmill::mail {

struct ParseLimits {
  size_t max_message_bytes = 64 * 1024 * 1024;
  size_t max_parts = 1000;
  size_t max_nested_containers = 64;  // multipart + message/rfc822 media types in total
  size_t max_text_bytes = 4 * 1024 * 1024;
  size_t max_part_fields = 1000;              // header fields per part (and per message)
  size_t max_part_field_bytes = 16 * 1024;    // one field, folded lines included
  size_t max_part_header_bytes = 256 * 1024;  // one part's header block
  SplitLimits header_limits;
};

struct Attachment {
  std::string file_id;       // part path, "1", "2.1", ...
  std::string filename;      // decoded UTF-8, may be empty
  std::string content_type;  // lowercased "type/subtype"
  size_t size = 0;           // decoded bytes
};

struct ParsedMessage {
  HeaderList headers;   // top-level header fields, raw
  std::string subject;  // decoded UTF-8, unfolded, trimmed
  Mailbox from;
  std::string text;  // best plain text, UTF-8, LF line ends
  bool text_from_html = false;
  std::vector<Attachment> attachments;
  Defects defects;
};

ParsedMessage ParseMessage(std::string_view raw, const ParseLimits& limits = {});

// Decoded bytes of the part named file_id (as in Attachment::file_id); kNotFound if absent.
Result<std::string> ExtractAttachment(std::string_view raw, std::string_view file_id,
                                      const ParseLimits& limits = {});

}  // namespace threadmill::mail
