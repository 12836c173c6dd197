#include "thread/reply_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/temp_dir.h"

namespace threadmill::thread {
namespace {

const ReplyTokenKeys kKeys({"0123456789abcdef-first-key"});
const ReplyTokenKeys kNoKeys;
const ReplyTokenKeys kOther({"0123456789abcdef-other-key"});
constexpr const char* kThread = "T01JXYZ0ABCDEFGHJKMN0";
constexpr int64_t kToday = 20000;

std::string Token(const ReplyTokenKeys& keys = kKeys, int64_t today = kToday,
                  int64_t lifetime = 90) {
  auto token = MakeReplyToken(keys, kThread, today, lifetime);
  EXPECT_TRUE(token.has_value());
  return token.value_or("");
}

TEST(ReplyToken, RoundTripLowercaseAndCaseInsensitive) {
  std::string token = Token();
  ASSERT_EQ(token.size(), kReplyTokenChars);
  for (char c : token) EXPECT_FALSE(c >= 'A' && c <= 'Z') << token;
  for (std::string t : {token, [&] {
                          std::string up = token;
                          for (char& c : up) c = static_cast<char>(std::toupper(c));
                          return up;
                        }()}) {
    TokenResult r = CheckReplyToken(kKeys, t, kToday);
    EXPECT_EQ(r.check, TokenCheck::kValid) << t;
    EXPECT_EQ(r.thread_id, kThread);
  }
}

TEST(ReplyToken, Rejections) {
  const std::string good = Token();
  auto flip = [&](size_t i) {
    std::string t = good;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    return t;
  };
  struct Case {
    const char* name;
    std::string token;
    const ReplyTokenKeys* keys;
    int64_t today;
    TokenCheck want;
  } cases[] = {
      {"valid on its last day", good, &kKeys, kToday + 90, TokenCheck::kValid},
      {"expired the day after", good, &kKeys, kToday + 91, TokenCheck::kExpired},
      {"tampered thread id", flip(3), &kKeys, kToday, TokenCheck::kInvalid},
      {"tampered expiry", flip(kReplyTokenChars - 17), &kKeys, kToday, TokenCheck::kInvalid},
      {"tampered mac", flip(kReplyTokenChars - 1), &kKeys, kToday, TokenCheck::kInvalid},
      {"wrong key", good, &kOther, kToday, TokenCheck::kInvalid},
      {"no keys", good, &kNoKeys, kToday, TokenCheck::kInvalid},
      {"malformed base32 (u)", good.substr(0, 39) + "u", &kKeys, kToday, TokenCheck::kInvalid},
      {"malformed base32 (=)", "=" + good.substr(1), &kKeys, kToday, TokenCheck::kInvalid},
      {"too short", good.substr(0, 39), &kKeys, kToday, TokenCheck::kInvalid},
      {"too long", good + "a", &kKeys, kToday, TokenCheck::kInvalid},
      {"empty", "", &kKeys, kToday, TokenCheck::kInvalid},
  };
  for (const Case& c : cases) {
    TokenResult r = CheckReplyToken(*c.keys, c.token, c.today);
    EXPECT_EQ(r.check, c.want) << c.name;
    if (c.want != TokenCheck::kValid) {
      EXPECT_TRUE(r.thread_id.empty()) << c.name;
    }
  }
}

TEST(ReplyToken, ExpiredTokenAlteredToLiveIsInvalid) {
  std::string old = Token(kKeys, kToday - 100, 90);  // expired 10 days ago
  EXPECT_EQ(CheckReplyToken(kKeys, old, kToday).check, TokenCheck::kExpired);
  std::string live = Token(kKeys, kToday, 90);
  // Splice the fresh expiry onto the old MAC: the MAC covers the expiry.
  std::string spliced = old.substr(0, 20) + live.substr(20, 4) + old.substr(24);
  EXPECT_EQ(CheckReplyToken(kKeys, spliced, kToday).check, TokenCheck::kInvalid);
}

TEST(ReplyToken, RotatedKeyStillVerifies) {
  std::string by_old = Token(kOther);
  ReplyTokenKeys rotated({"0123456789abcdef-first-key", "0123456789abcdef-other-key"});
  EXPECT_EQ(CheckReplyToken(rotated, by_old, kToday).check, TokenCheck::kValid);
  // The new first key signs.
  std::string by_new = *MakeReplyToken(rotated, kThread, kToday, 90);
  EXPECT_EQ(by_new, Token(kKeys));
  EXPECT_EQ(CheckReplyToken(kOther, by_new, kToday).check, TokenCheck::kInvalid);
}

TEST(ReplyToken, OnlyStoreThreadIdsGetTokens) {
  EXPECT_FALSE(MakeReplyToken(kKeys, "TA", kToday, 90));
  EXPECT_FALSE(MakeReplyToken(kKeys, "X01JXYZ0ABCDEFGHJKMN0", kToday, 90));
  EXPECT_FALSE(MakeReplyToken(kKeys, "T01JXYZ0ABCDEFGHJKMNU", kToday, 90));
  EXPECT_FALSE(MakeReplyToken(ReplyTokenKeys(), kThread, kToday, 90));
}

TEST(ReplyToken, Addresses) {
  std::string token = Token();
  EXPECT_EQ(AddressWithToken("support@example.org", token), "support+" + token + "@example.org");
  EXPECT_EQ(AddressWithToken("support+old@example.org", token),
            "support+" + token + "@example.org");
  EXPECT_EQ(TokenOfAddress("support+" + token + "@example.org"), token);
  EXPECT_EQ(TokenOfAddress("<support+" + token + "@example.org>"), token);
  EXPECT_EQ(TokenOfAddress("support+tag@example.org"), "");
  EXPECT_EQ(TokenOfAddress("support@example.org"), "");
  EXPECT_EQ(DayOf(86400 * 3 + 5), 3);
}

TEST(ReplyTokenKeys, FileChecks) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir.str() + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  };
  std::string good = write("good", "0123456789abcdef-first-key\n", 0600);
  std::string old = write("old", "0123456789abcdef-other-key", 0400);
  struct Case {
    const char* name;
    std::vector<std::string> files;
    bool ok;
  } cases[] = {
      {"two good files", {good, old}, true},
      {"group readable", {good, write("group", "0123456789abcdef-xx", 0640)}, false},
      {"world readable", {write("world", "0123456789abcdef-xx", 0604)}, false},
      {"too short", {write("short", "short\n", 0600)}, false},
      {"missing", {dir.str() + "/none"}, false},
  };
  for (const Case& c : cases) {
    auto keys = ReplyTokenKeys::Load(c.files);
    EXPECT_EQ(keys.ok(), c.ok) << c.name;
    if (!keys.ok()) {
      EXPECT_NE(keys.error().message.find("token key file"), std::string::npos) << c.name;
    }
  }
  auto keys = ReplyTokenKeys::Load({good, old});
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->keys().front(), "0123456789abcdef-first-key");  // trailing newline dropped
  EXPECT_EQ(CheckReplyToken(*keys, Token(kOther), kToday).check, TokenCheck::kValid);
}

}  // namespace
}  // namespace threadmill::thread
