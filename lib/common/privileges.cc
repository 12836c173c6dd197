#include "common/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace threadmill {
namespace {

Error Invalid(std::string why) { return MakeError(ErrorCode::kInvalidInput, std::move(why)); }

Error Failed(const std::string& what) {
  return MakeError(ErrorCode::kPermission,
                   "cannot drop privileges: " + what + ": " + std::strerror(errno));
}

}  // namespace

AccountDb SystemAccounts() {
  AccountDb db;
  db.user = [](const std::string& name) -> std::optional<AccountDb::User> {
    const passwd* pw = getpwnam(name.c_str());
    if (!pw) return std::nullopt;
    return AccountDb::User{pw->pw_uid, pw->pw_gid};
  };
  db.group = [](const std::string& name) -> std::optional<gid_t> {
    const group* gr = getgrnam(name.c_str());
    if (!gr) return std::nullopt;
    return gr->gr_gid;
  };
  return db;
}

Result<PrivilegePlan> PlanPrivilegeDrop(const ServiceAccount& account, uid_t euid,
                                        const AccountDb& db) {
  PrivilegePlan plan;
  plan.uid = euid;
  plan.gid = getegid();
  if (euid != 0) return plan;
  if (account.user.empty()) {
    plan.action = PrivilegePlan::Action::kStayRoot;
    return plan;
  }
  auto user = db.user(account.user);
  if (!user) {
    return Invalid("user \"" + account.user +
                   "\" does not exist: create it or set [milter] user (refusing to run as root)");
  }
  if (user->uid == 0) {
    return Invalid("user \"" + account.user +
                   "\" is root (uid 0): set [milter] user to an unprivileged account");
  }
  plan.action = PrivilegePlan::Action::kDrop;
  plan.user = account.user;
  plan.uid = user->uid;
  plan.gid = user->gid;
  if (!account.group.empty()) {
    auto gid = db.group(account.group);
    if (!gid) {
      return Invalid("group \"" + account.group +
                     "\" does not exist: create it or set [milter] group");
    }
    plan.gid = *gid;
  }
  if (plan.gid == 0) {
    return Invalid("the group of user \"" + account.user +
                   "\" is root (gid 0): set [milter] group to an unprivileged group");
  }
  return plan;
}

Status DropPrivileges(const PrivilegePlan& plan) {
  if (plan.action != PrivilegePlan::Action::kDrop) return {};
  if (initgroups(plan.user.c_str(), plan.gid) != 0) return Failed("initgroups " + plan.user);
  if (setresgid(plan.gid, plan.gid, plan.gid) != 0) return Failed("setresgid");
  if (setresuid(plan.uid, plan.uid, plan.uid) != 0) return Failed("setresuid " + plan.user);
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) {
    return Failed("getresuid");
  }
  if (ruid != plan.uid || euid != plan.uid || suid != plan.uid || rgid != plan.gid ||
      egid != plan.gid || sgid != plan.gid) {
    errno = EPERM;
    return Failed("ids not changed");
  }
  int n = getgroups(0, nullptr);
  std::vector<gid_t> groups(n > 0 ? static_cast<size_t>(n) : 0);
  if (n < 0 || getgroups(n, groups.data()) != n) return Failed("getgroups");
  for (gid_t g : groups) {
    if (g == 0) {
      errno = EPERM;
      return Failed("user " + plan.user + " is in group root (gid 0)");
    }
  }
  if (setuid(0) == 0) {
    errno = EPERM;
    return Failed("root could be regained");
  }
  return {};
}

}  // namespace threadmill
