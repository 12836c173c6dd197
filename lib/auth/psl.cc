// psl.cc - see psl.h.
#include "auth/psl.h"

#include <fstream>
#include <vector>

#include "common/ascii.h"

namespace threadmill::auth {

Result<PublicSuffixList> PublicSuffixList::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read public suffix list " + path);
  PublicSuffixList psl;
  std::string line;
  while (std::getline(in, line)) {
    size_t end = line.find_first_of(" \t\r");
    if (end != std::string::npos) line.resize(end);
    if (line.empty() || line.rfind("//", 0) == 0) continue;
    line = ascii::ToLower(line);
    if (line[0] == '!')
      psl.exceptions_.insert(line.substr(1));
    else if (line.rfind("*.", 0) == 0)
      psl.wildcards_.insert(line.substr(2));
    else
      psl.rules_.insert(line);
  }
  if (psl.rules_.empty()) return MakeError(ErrorCode::kInvalidInput, "empty PSL " + path);
  return psl;
}

std::string PublicSuffixList::OrganizationalDomain(std::string_view domain) const {
  std::string d = ascii::ToLower(domain);
  while (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty()) return {};
  // Label start offsets, left to right.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i] == '.') starts.push_back(i + 1);
  size_t n = starts.size();
  // Longest matching rule, in number of labels; default rule "*" = 1 label.
  size_t suffix_labels = 1;
  for (size_t k = 0; k < n; ++k) {  // candidate suffix = labels k..n-1
    std::string_view cand(d.c_str() + starts[k]);
    size_t labels = n - k;
    if (exceptions_.count(std::string(cand))) {
      suffix_labels = labels - 1;
      break;  // exception rules win
    }
    if (labels > suffix_labels && rules_.count(std::string(cand))) suffix_labels = labels;
    if (k + 1 < n && labels > suffix_labels) {
      std::string_view parent(d.c_str() + starts[k + 1]);
      if (wildcards_.count(std::string(parent))) suffix_labels = labels;
    }
  }
  if (suffix_labels >= n) return {};
  return d.substr(starts[n - suffix_labels - 1]);
}

}  // namespace threadmill::auth
