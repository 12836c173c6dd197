// The privilege drop's decision (table-driven, fake account database, no root needed) and the
// drop itself in a forked child: as root it drops to nobody and cannot get root back; without
// the privilege the drop fails with an error instead of carrying on.
#include "common/privileges.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

namespace threadmill {
namespace {

using Action = PrivilegePlan::Action;

AccountDb FakeAccounts() {
  static const std::map<std::string, AccountDb::User> users = {
      {"threadmill", {998, 997}}, {"root", {0, 0}}, {"wheelie", {1001, 0}}};
  static const std::map<std::string, gid_t> groups = {{"mail", 8}, {"root", 0}};
  AccountDb db;
  db.user = [](const std::string& name) -> std::optional<AccountDb::User> {
    auto it = users.find(name);
    if (it == users.end()) return std::nullopt;
    return it->second;
  };
  db.group = [](const std::string& name) -> std::optional<gid_t> {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  };
  return db;
}

TEST(PrivilegesTest, Plan) {
  struct Case {
    std::string user, group;
    uid_t euid;
    Action action;
    uid_t uid;
    gid_t gid;
    std::string error;  // substring; "" = no error
  } cases[] = {
      {"threadmill", "", 0, Action::kDrop, 998, 997, ""},
      {"threadmill", "mail", 0, Action::kDrop, 998, 8, ""},
      {"", "", 0, Action::kStayRoot, 0, 0, ""},
      {"", "mail", 0, Action::kStayRoot, 0, 0, ""},
      // Not root: nothing to drop, nothing looked up (a missing user is no error then).
      {"threadmill", "", 1000, Action::kKeep, 1000, 0, ""},
      {"nosuchuser", "", 1000, Action::kKeep, 1000, 0, ""},
      // Refusals: never "stay root" instead.
      {"nosuchuser", "", 0, Action::kKeep, 0, 0,
       "user \"nosuchuser\" does not exist: create it or set [milter] user (refusing to run as "
       "root)"},
      {"threadmill", "nosuchgroup", 0, Action::kKeep, 0, 0,
       "group \"nosuchgroup\" does not exist: create it or set [milter] group"},
      {"root", "", 0, Action::kKeep, 0, 0, "user \"root\" is root (uid 0)"},
      {"threadmill", "root", 0, Action::kKeep, 0, 0, "is root (gid 0)"},
      {"wheelie", "", 0, Action::kKeep, 0, 0, "is root (gid 0)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.user + "/" + c.group + " euid " + std::to_string(c.euid));
    auto plan = PlanPrivilegeDrop({c.user, c.group}, c.euid, FakeAccounts());
    if (!c.error.empty()) {
      ASSERT_FALSE(plan.ok());
      EXPECT_EQ(plan.error().code, ErrorCode::kInvalidInput);
      EXPECT_NE(plan.error().message.find(c.error), std::string::npos) << plan.error().message;
      continue;
    }
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    EXPECT_EQ(plan->action, c.action);
    EXPECT_EQ(plan->uid, c.uid);
    if (c.action == Action::kDrop) {
      EXPECT_EQ(plan->gid, c.gid);
      EXPECT_EQ(plan->user, c.user);
    }
  }
}

TEST(PrivilegesTest, NothingToDoUnlessDropping) {
  PrivilegePlan keep;
  EXPECT_TRUE(DropPrivileges(keep).ok());
  PrivilegePlan stay;
  stay.action = Action::kStayRoot;
  uid_t before = geteuid();
  EXPECT_TRUE(DropPrivileges(stay).ok());
  EXPECT_EQ(geteuid(), before);
}

// Runs `body` in a child; its exit status is the result (0 = pass, else a failure code).
int InChild(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(PrivilegesTest, DropsForGood) {
  if (geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  int rc = InChild([]() -> int {
    auto plan = PlanPrivilegeDrop({"nobody", ""}, geteuid());
    if (!plan.ok() || plan->action != Action::kDrop) return 1;
    if (!DropPrivileges(*plan).ok()) return 2;
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    if (r != plan->uid || e != plan->uid || s != plan->uid) return 3;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PrivilegesTest, FailsWithoutThePrivilege) {
  int rc = InChild([]() -> int {
    if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0) return 1;
    PrivilegePlan plan;
    plan.action = Action::kDrop;
    plan.user = "nobody";
    plan.uid = 65533;
    plan.gid = 65533;
    Status dropped = DropPrivileges(plan);
    if (dropped.ok()) return 2;
    if (dropped.error().code != ErrorCode::kPermission) return 3;
    if (dropped.error().message.rfind("cannot drop privileges: ", 0) != 0) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace threadmill
