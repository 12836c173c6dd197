// arc_set.h - ARC header fields grouped into numbered ARC sets.
//
// DESCRIPTION
//   ParseTagList() reads a DKIM-style tag list (ARC-Seal, ARC-Message-Signature).
//   WithoutSignature() gives a signature field's value with the b= value removed (what the
//   signature covers). CollectArcSets() groups the ARC-Authentication-Results (AAR),
//   ARC-Message-Signature (AMS) and ARC-Seal (AS) fields of a message by their i= into
//   sets 1..N and checks the structure: every instance present exactly once with its three
//   fields, no gap, N at most max_instances.
//
// STANDARDS
//   RFC 8617 sections 4.1, 4.2 (ARC sets, instance tags), 5.2 steps 1-3; RFC 6376 section
//   3.2 (tag lists).
//
// LIMITS
//   A tag list with a duplicate tag, a malformed tag name or an empty tag-spec (";;") is
//   rejected (the set then fails); tag names are case-sensitive ("S=" is not "s=").
//   RFC 8617 caps the chain at 50 instances; a larger or malformed i= fails the chain.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace threadmill::auth {

inline constexpr size_t kArcMaxInstances = 50;  // RFC 8617 section 4.2.1

using TagList = std::map<std::string, std::string>;  // tag (case-sensitive) -> value, FWS trimmed

std::optional<TagList> ParseTagList(std::string_view value);
// The field value with the b= tag's value emptied, everything else kept octet for octet.
std::string WithoutSignature(std::string_view value);
// A tag value with all white space removed (b=, bh= base64).
std::string StripWhiteSpace(std::string_view value);

struct ArcField {
  std::string name;   // as received
  std::string value;  // exactly as it follows the colon
};

struct ArcSet {
  int instance = 0;
  ArcField aar, ams, seal;
  TagList ams_tags, seal_tags;
  std::string aar_payload;  // the AAR after "i=N;": "authserv-id; dmarc=pass ..."
};

struct ArcSets {
  bool any = false;          // the message has at least one ARC field
  std::vector<ArcSet> sets;  // instance 1..N in order, when error is empty
  std::string error;         // why the structure is broken (the chain then fails)
};

bool IsArcField(std::string_view name);
ArcSets CollectArcSets(const std::vector<ArcField>& fields,
                       size_t max_instances = kArcMaxInstances);

}  // namespace threadmill::auth
