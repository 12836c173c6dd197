// builder.h - builds the MIME text of threadmill's outgoing replies and new messages.
//
// DESCRIPTION
//   RenderMessage writes one complete RFC 5322 message with LF line ends (the form the MTA's
//   sendmail expects on its standard input): Date, From, To, Subject (RFC 2047 when not
//   ASCII), Message-ID, In-Reply-To and References when answering, Auto-Submitted,
//   MIME-Version, and a UTF-8 text/plain body, or multipart/alternative text + html when html
//   is given. Bodies are quoted-printable when mostly ASCII, base64 otherwise; line ends are
//   normalized. With attachments the body becomes the first part of a multipart/mixed, each
//   attachment a base64 part with Content-Disposition: attachment and its filename (quoted
//   when ASCII, RFC 2231 UTF-8 otherwise). Cc is written after To. Extra headers (handler
//   supplied, checked with CheckExtraHeader first) follow the threading headers.
//   Auto-Submitted is written as given: "auto-replied" (replies), "auto-generated" (sends),
//   "no" (a reply a person approved: RFC 3834 section 5, sent by a person). Everything random
//   (Message-ID, boundary) and the time are inputs, so tests compare whole messages against golden
//   files.
//
//   ReplySubject adds "Re: " unless the subject already starts with a reply prefix, in
//   English or in the usual translations (Re, RE, Aw, AW, Sv, SV, Antw, Ref, Réf, Rif, Odp,
//   Vs, YNT, Atb, ...), possibly with "[n]" or "^n" counters: those are normalized to one
//   "Re: ". ReplyReferences builds the References of a reply: parent's References + parent's
//   Message-ID, trimmed to at most `max_ids` ids (and kMaxReferencesBytes) keeping the first
//   id (the thread root) and the most recent ones.
//
// STANDARDS
//   RFC 5322 (3.6.4 identification fields, 3.6.5 Subject "Re: "), RFC 2045/2046 (MIME,
//   quoted-printable, base64, multipart/alternative), RFC 2047 (encoded Subject),
//   RFC 3834 (Auto-Submitted).
//
// LIMITS
//   Header values are taken as given (callers pass addresses already validated); display
//   names are RFC 2047-encoded when not ASCII and quoted otherwise. Extra header values are
//   RFC 2047-encoded when not ASCII. The size cap of composed messages is the caller's
//   (ComposedBytes, [reply] max_message_bytes). Pure, thread-safe except
//   NewMessageId/NewBoundary (which read getrandom).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace threadmill::reply {

inline constexpr size_t kMaxReferencesBytes = 16000;

// A file attached to an outgoing message.
struct OutgoingAttachment {
  std::string filename;      // UTF-8, may be empty
  std::string content_type;  // "type/subtype" (CheckContentType), "" = application/octet-stream
  std::string data;          // the bytes
};

// A header the handler adds (name checked by CheckExtraHeader).
struct ExtraHeader {
  std::string name;
  std::string value;  // UTF-8
};

struct OutgoingMessage {
  std::string from_address;
  std::string from_name;  // UTF-8 display name, may be empty
  std::string reply_to;   // Reply-To address (a signed reply address), "" for none
  std::vector<std::string> to;
  std::vector<std::string> cc;          // addresses, may be empty
  std::string subject;                  // final subject, UTF-8
  std::string message_id;               // normalized, without <>
  std::string in_reply_to;              // normalized, "" for a new conversation
  std::vector<std::string> references;  // normalized ids
  std::string auto_submitted;           // "auto-replied", "auto-generated", "no" or "" (none)
  std::string text;                     // UTF-8
  std::string html;                     // UTF-8, "" for text only
  int64_t date = 0;                     // unix seconds (written in UTC)
  std::string boundary;                 // used when html is given
  std::vector<OutgoingAttachment> attachments;
  std::vector<ExtraHeader> extra_headers;
  std::string mixed_boundary;  // used when attachments are given (NewBoundary)
};

// "" when a handler may add header `name` with `value`, else the reason ("header-owned:NAME"
// for headers threadmill writes or that speak for the transport or authentication: From,
// To, Cc, Bcc, Sender, Subject, Date, Message-ID, In-Reply-To, References, Auto-Submitted,
// Precedence, Return-Path, Received, MIME-*, Content-*, Resent-*, DKIM-*, ARC-*,
// Authentication-Results, Received-SPF; "header-name" for a name that is not RFC 5322
// printable ASCII without ':' (1..76 bytes); "header-value" for a value with control
// characters (CR, LF, ...) or over 998 bytes).
std::string CheckExtraHeader(std::string_view name, std::string_view value);
// True for "type/subtype" made of RFC 2045 token characters (parameters are refused).
bool CheckContentType(std::string_view content_type);
// Bytes a message's content adds (text, html, attachments, extra headers): what the
// [reply] max_message_bytes cap counts.
size_t ComposedBytes(const OutgoingMessage& message);

// The complete message (LF line ends).
std::string RenderMessage(const OutgoingMessage& message);

// "Re: " + subject without stacked reply prefixes.
std::string ReplySubject(std::string_view subject);

// References of a reply (see file comment).
std::vector<std::string> ReplyReferences(const std::vector<std::string>& parent_references,
                                         std::string_view parent_id, size_t max_ids);

// A fresh Message-ID (normalized, without <>) at `domain`: "tm.<time36>.<random>@domain".
std::string NewMessageId(std::string_view domain);
// A fresh MIME boundary.
std::string NewBoundary();

// RFC 5322 date-time in UTC ("Tue, 01 Jul 2025 10:00:00 +0000").
std::string FormatDate(int64_t unix_seconds);

// Body transfer encodings (exposed for tests).
std::string EncodeQuotedPrintable(std::string_view utf8);
std::string EncodeBase64Lines(std::string_view bytes);

}  // namespace threadmill::reply
