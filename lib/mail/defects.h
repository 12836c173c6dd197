// defects.h - flags for malformed mail found while parsing.
//
// DESCRIPTION
//   Malformed mail is data, not an error: every parser in lib/mail records what it had to
//   repair or skip in a Defects set and keeps going. Defects is a small value type (one
//   64-bit word) that can be merged and printed as a comma list ("duplicate-id,junk") for
//   log lines. Defect names are stable: log parsers and tests rely on them.
//
// LIMITS
//   At most 64 distinct defects; a set records presence, not counts or positions.
#pragma once

#include <cstdint>
#include <string>

namespace threadmill::mail {

enum class Defect : uint8_t {
  kMissingAngleBrackets,   // msg-id or address without <>
  kDuplicateId,            // a msg-id repeated in the same field (later copies dropped)
  kJunk,                   // text that is not part of the grammar was skipped
  kTooLong,                // an item over its size limit was dropped or cut
  kTruncated,              // input over a size/count limit was not parsed completely
  kNulByte,                // NUL byte(s) removed
  kInvalidUtf8,            // invalid UTF-8 replaced with U+FFFD
  kEightBit,               // raw 8-bit bytes where only ASCII is allowed
  kMissingAt,              // msg-id or address without '@'
  kUnterminated,           // unterminated comment, quoted string, angle bracket or word
  kHeaderTooLong,          // header field or header block over its byte cap
  kMissingBlankLine,       // header block ended by a non-header line, not an empty line
  kBadHeaderLine,          // header line without a colon or with an invalid name
  kMissingBoundary,        // multipart without a usable boundary parameter
  kUnterminatedMultipart,  // multipart without its closing delimiter
  kBadBase64,              // base64 with invalid characters or length
  kBadQuotedPrintable,     // quoted-printable with invalid escapes
  kUnknownEncoding,        // unknown Content-Transfer-Encoding (used as is)
  kUnknownCharset,         // charset not known to iconv (decoded as UTF-8)
  kMissingContentType,     // MIME message without Content-Type
  kMimeParseError,         // the MIME parser failed; best-effort text used
  kBadEncodedWord,         // malformed RFC 2047 encoded word left as is
  kBadParameter,           // malformed MIME parameter (RFC 2045/2231)
  kBadThreadIndex,         // Thread-Index not base64 or of an invalid length
  kTooComplex,             // too many parts or nesting too deep
  kCount_                  // keep last
};

// Stable lower-case name of one defect, e.g. "duplicate-id".
const char* DefectName(Defect defect);

class Defects {
 public:
  void Add(Defect d) { bits_ |= Bit(d); }
  bool Has(Defect d) const { return (bits_ & Bit(d)) != 0; }
  bool empty() const { return bits_ == 0; }
  void Merge(const Defects& other) { bits_ |= other.bits_; }
  uint64_t bits() const { return bits_; }
  bool operator==(const Defects&) const = default;

  // Comma-separated names in enum order, "" when empty.
  std::string ToString() const;

 private:
  static uint64_t Bit(Defect d) { return uint64_t{1} << static_cast<unsigned>(d); }
  uint64_t bits_ = 0;
};

}  // namespace threadmill::mail
