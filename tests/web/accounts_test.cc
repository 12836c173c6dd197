// accounts_test.cc - the accounts file: argon2id hashes, round trip, roles, bad lines.
#include "web/accounts.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace threadmill::web {
namespace {

TEST(AccountsTest, HashVerifies) {
  auto hash = HashPassword("correct horse");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hash->starts_with("$argon2id$")) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse "));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("", "correct horse"));
  EXPECT_FALSE(VerifyPassword("$argon2id$garbage", "correct horse"));
  auto again = HashPassword("correct horse");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*hash, *again) << "a fresh salt each time";
}

TEST(AccountsTest, FileRoundTripWithRolesAndHandlers) {
  testing::TempDir dir;
  std::string path = dir.str() + "/web-users";
  Accounts accounts;
  accounts.Set({"alice", Role::kApprover, {"sales", "support"}, *HashPassword("a-pass")});
  accounts.Set({"bob", Role::kViewer, {}, *HashPassword("b-pass")});
  accounts.Set({"root@example.org", Role::kAdmin, {"sales"}, *HashPassword("c-pass")});
  ASSERT_TRUE(accounts.Save(path).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  auto loaded = Accounts::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->size(), 3u);
  const Account* alice = loaded->Find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->role, Role::kApprover);
  EXPECT_EQ(alice->handlers, (std::vector<std::string>{"sales", "support"}));
  EXPECT_TRUE(VerifyPassword(alice->hash, "a-pass"));
  EXPECT_FALSE(VerifyPassword(alice->hash, "b-pass"));
  EXPECT_TRUE(alice->CanAct());
  EXPECT_TRUE(alice->SeesHandler("sales"));
  EXPECT_FALSE(alice->SeesHandler("billing"));
  const Account* bob = loaded->Find("bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_FALSE(bob->CanAct());
  EXPECT_TRUE(bob->SeesHandler("anything"));
  const Account* admin = loaded->Find("root@example.org");
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->SeesHandler("billing")) << "an admin is not restricted";
  EXPECT_EQ(loaded->Find("carol"), nullptr);

  // Replacing an account keeps the others.
  loaded->Set({"bob", Role::kApprover, {}, *HashPassword("new")});
  ASSERT_TRUE(loaded->Save(path).ok());
  auto again = Accounts::Load(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 3u);
  EXPECT_EQ(again->Find("bob")->role, Role::kApprover);
  EXPECT_TRUE(VerifyPassword(again->Find("bob")->hash, "new"));
}

TEST(AccountsTest, MissingFileIsEmptyAndBadLinesAreNamed) {
  auto none = Accounts::Load("/nonexistent/threadmill-web-users");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->size(), 0u);
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"alice:approver::notahash\n", "line 1: not an argon2 hash"},
      {"# comment\n\nalice:boss::$argon2id$x\n", "line 3: role"},
      {"al ice:viewer::$argon2id$x\n", "line 1: bad user name"},
      {"alice:viewer\n", "line 1: not USER:ROLE:HANDLERS:HASH"},
  };
  for (const auto& c : cases) {
    auto parsed = Accounts::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_NE(parsed.error().message.find(c.want), std::string::npos) << parsed.error().message;
  }
}

TEST(AccountsTest, UserNamesAndRoles) {
  EXPECT_TRUE(ValidUserName("alice.b-c_d@example.org"));
  EXPECT_FALSE(ValidUserName(""));
  EXPECT_FALSE(ValidUserName("a:b"));
  EXPECT_FALSE(ValidUserName("a\nb"));
  EXPECT_FALSE(ValidUserName(std::string(65, 'a')));
  Role r;
  EXPECT_TRUE(ParseRole("viewer", &r) && r == Role::kViewer);
  EXPECT_TRUE(ParseRole("approver", &r) && r == Role::kApprover);
  EXPECT_TRUE(ParseRole("admin", &r) && r == Role::kAdmin);
  EXPECT_FALSE(ParseRole("Admin", &r));
}

}  // namespace
}  // namespace threadmill::web
