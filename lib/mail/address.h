// address.h - From/To/Cc/Reply-To address lists and SMTP envelope addresses.
//
// DESCRIPTION
//   ParseAddressList reads an RFC 5322 address-list into mailboxes: display names (quoted or
//   not, RFC 2047 encoded words decoded to UTF-8), angle addresses, bare addr-specs, groups
//   ("undisclosed-recipients:;" contributes no mailbox), comments (an old-style
//   "joe@x (Joe Bloggs)" comment becomes the display name when there is no phrase), obsolete
//   routes (<@relay:joe@x>) and "<>". Addresses are "local@domain" with the domain lowercased
//   and the local part kept (de-quoted when dot-atom-safe).
//   NormalizeEnvelopeAddress does the same for a MAIL FROM / RCPT TO argument.
//   ParseAuthor reads every From field of a message into the one author view that DMARC
//   (lib/auth) and the handler envelope (lib/runtime) both use, so they cannot disagree on
//   who wrote a message.
//
// STANDARDS
//   RFC 5322 section 3.4 (address specification) and 4.4 (obsolete addressing), RFC 2047
//   (encoded words in phrases, also accepted inside quoted strings as mailers send them),
//   RFC 5321 section 4.1.2 (path: <>, source routes), RFC 6532 (UTF-8), RFC 5322 section
//   3.6.2 and RFC 7489 section 6.6.1 (the author: one From field, a mailbox-list).
//
// LIMITS
//   Display names in raw 8-bit are taken as UTF-8, or windows-1252 when invalid. Unquoted
//   commas in display names ("Doe, John <j@x>") split the entry as RFC 5322 says; the
//   "Doe" part becomes a mailbox without '@' (defect missing-at) which callers may drop.
//   At most max_mailboxes mailboxes are returned (defect truncated). No IDNA.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/defects.h"

namespace threadmill::mail {

struct Mailbox {
  std::string display_name;  // UTF-8, may be empty
  std::string address;       // "local@domain", "" for <>
  bool operator==(const Mailbox&) const = default;
};

struct AddressList {
  std::vector<Mailbox> mailboxes;
  Defects defects;
};

AddressList ParseAddressList(std::string_view value, size_t max_mailboxes = 1000);

// First mailbox of the value (empty Mailbox when there is none).
Mailbox ParseMailbox(std::string_view value, Defects* defects = nullptr);

// The author of a message from the values of all its From fields, in message order.
struct Author {
  std::vector<Mailbox> mailboxes;  // every mailbox of every From field, in order
  // Distinct lower-cased domains of those mailboxes, in message order, plus the domain of
  // every other <...> address in a From field (`<a@x> <b@y>`: junk a reader may still
  // show as the sender). What DMARC evaluates.
  std::vector<std::string> domains;
  size_t fields = 0;  // From fields seen
  Defects defects;
  // Exactly one From field naming exactly one address with a domain and no other address:
  // the only shape DMARC can pass (RFC 7489 section 6.6.1).
  bool single = false;
  // The mailbox to show as the sender: the first with a domain, else the first; an empty
  // Mailbox when there is none. With `single`, the one author.
  const Mailbox& mailbox() const;
};

Author ParseAuthor(const std::vector<std::string_view>& from_values, size_t max_mailboxes = 1000);

// "<Foo@Example.COM>" -> "Foo@example.com"; "<>" -> ""; source routes dropped.
std::string NormalizeEnvelopeAddress(std::string_view arg);

}  // namespace threadmill::mail
