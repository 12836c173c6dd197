// mime_guard_test.cc - bounding mimetic's input: header lines, fields, parts (issue 8 item 12).
#include "mail/mime_guard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "mail/mime.h"

namespace threadmill::mail {
namespace {

MimeGuardLimits Small(size_t field_bytes = 20) {
  MimeGuardLimits l;
  l.max_parts = 2;
  l.max_fields = 3;
  l.max_field_bytes = field_bytes;
  l.max_header_bytes = 3 * field_bytes;
  return l;
}

TEST(mail_mime_guard, Table) {
  struct Case {
    const char* name;
    std::string in, want, defects;
    size_t field_bytes = 20;
  };
  const std::string mp = "Content-Type: multipart/mixed; b=1;\r\n boundary=zz\r\n\r\n";
  const std::vector<Case> cases = {
      {"untouched", "A: b\r\n\r\n" + std::string(100, 'x'), "A: b\r\n\r\n" + std::string(100, 'x'),
       ""},
      {"long_field_cut", "Subject: 0123456789abcdefghijkl\r\n\r\nbody",
       "Subject: 0123456789a\r\n\r\nbody", "header-too-long"},
      {"folded_lines_dropped", "A: 0123456789\r\n 0123456789\r\n more\r\nB: c\r\n\r\nx",
       "A: 0123456789\r\n 012345\r\nB: c\r\n\r\nx", "header-too-long"},
      {"fields_capped", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n e\r\nE: 5\r\n\r\nx",
       "A: 1\r\nB: 2\r\nC: 3\r\n\r\nx", "header-too-long"},
      {"long_body_line_kept", "A: b\r\n\r\n" + std::string(100, 'y') + "\r\n",
       "A: b\r\n\r\n" + std::string(100, 'y') + "\r\n", ""},
      {"non_field_line_cut", std::string(30, 'n') + "\r\nrest", std::string(20, 'n') + "\r\nrest",
       "header-too-long"},
      {"parts_capped", mp + "--zz\r\n\r\na\r\n--zz\r\n\r\nb\r\n--zz\r\n\r\nc\r\n--zz--\r\n",
       mp + "--zz\r\n\r\na\r\n--zz\r\n\r\nb\r\n", "too-complex", 50},
      {"part_header_cut",
       mp + "--zz\r\nX: " + std::string(60, 'h') + "\r\n\r\n" + std::string(60, 'b') +
           "\r\n--zz--\r\n",
       mp + "--zz\r\nX: " + std::string(47, 'h') + "\r\n\r\n" + std::string(60, 'b') +
           "\r\n--zz--\r\n",
       "header-too-long", 50},
      {"undeclared_boundary_is_body", "A: b\r\n\r\n--zz\r\nX: " + std::string(40, 'h'),
       "A: b\r\n\r\n--zz\r\nX: " + std::string(40, 'h'), ""},
      {"rfc822_header_guarded",
       "Content-Type: message/rfc822\r\n\r\nSubject: " + std::string(60, 's') + "\r\n\r\nx",
       "Content-Type: message/rfc822\r\n\r\nSubject: " + std::string(41, 's') + "\r\n\r\nx",
       "header-too-long", 50},
      {"lone_cr_ends_lines", "A: b\rB: " + std::string(40, 'c') + "\r\rx",
       "A: b\rB: " + std::string(17, 'c') + "\r\rx", "header-too-long"},
  };
  for (const auto& c : cases) {
    std::string storage;
    Defects d;
    MimeGuardLimits limits = Small(c.field_bytes);
    std::string_view got = GuardForMimetic(c.in, limits, &storage, &d);
    EXPECT_EQ(got, c.want) << c.name;
    EXPECT_EQ(d.ToString(), c.defects) << c.name;
    if (c.defects.empty()) {
      EXPECT_EQ(got.data(), c.in.data()) << c.name << ": copied needlessly";
    }
  }
}

double Seconds(const std::string& raw, ParsedMessage* m) {
  auto start = std::chrono::steady_clock::now();
  *m = ParseMessage(raw);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The hostile messages of issue 8 item 12 through the whole parser; each took seconds to
// minutes (and 885 MB for the parts) before; about 0.1 s each now.
TEST(mail_mime_guard, HostileMessagesAreFast) {
  const size_t n = 9800000;
  std::string semis(n, ';');
  std::string parts;
  while (parts.size() < n) parts += "--b\r\n\r\nx\r\n";
  std::string fields;
  while (fields.size() < n) fields += "X-A: b\r\n";
  std::string folded;
  while (folded.size() < n) folded += "\r\n ;";
  struct Case {
    const char* name;
    std::string raw;
    Defect want;
  } cases[] = {
      {"top_content_type",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b" + semis +
           "\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
       Defect::kHeaderTooLong},
      {"part_content_type",
       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain" + semis +
           "\r\n\r\nx\r\n--b--\r\n",
       Defect::kHeaderTooLong},
      {"folded_part_field",
       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain" + folded +
           "\r\n\r\nx\r\n--b--\r\n",
       Defect::kHeaderTooLong},
      {"many_parts", "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + "--b--\r\n",
       Defect::kTooComplex},
      {"many_part_fields",
       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + fields + "\r\nx\r\n--b--\r\n",
       Defect::kHeaderTooLong},
  };
  for (const auto& c : cases) {
    ParsedMessage m;
    EXPECT_LT(Seconds(c.raw, &m), 10.0) << c.name;  // also under ASan; was minutes
    EXPECT_TRUE(m.defects.Has(c.want)) << c.name << ": " << m.defects.ToString();
  }
}

}  // namespace
}  // namespace threadmill::mail
