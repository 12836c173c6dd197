// privileges.h - the one privilege drop of threadmill's processes: the milter daemon and the
// handler supervisor (whose workers inherit it) decide and drop the same way.
//
// DESCRIPTION
//   OpenSMTPD/Postfix style: a process started as root does its root-phase work (bind the
//   socket, open the store, hand the store to the service user) and then drops to the
//   service account for good. PlanPrivilegeDrop decides, DropPrivileges does it.
//
//   Decision ([milter] user / group, effective uid at start):
//     - not root: nothing to drop (kKeep); user and group are not looked up.
//     - root, user "": stays root, which the administrator asked for explicitly (kStayRoot;
//       callers log a warning). Documented as "" = stay.
//     - root, user set: kDrop to that user, its primary group or [milter] group, and the
//       user's supplementary groups (initgroups).
//   Refusals (the process must not start; one clear line naming the key to fix):
//     - the user or the group does not exist (never "stay root" instead);
//     - the user is uid 0 or the group gid 0 (a drop that keeps root is no drop).
//   DropPrivileges sets supplementary groups, then real/effective/saved gid and uid
//   (setresgid, setresuid), and verifies: all ids are the service ids, gid 0 is not among
//   the groups, and setuid(0) fails.
//
// LIMITS
//   Start-up only (getpwnam/getgrnam are not thread-safe): call before threads exist.
//   Linux capabilities are not managed separately: dropping uid 0 drops them all.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"

namespace threadmill {

struct ServiceAccount {
  std::string user;   // [milter] user; "" = stay who we are
  std::string group;  // [milter] group; "" = the user's primary group
};

// Name service lookups, replaceable in tests.
struct AccountDb {
  struct User {
    uid_t uid = 0;
    gid_t gid = 0;
  };
  std::function<std::optional<User>(const std::string&)> user;
  std::function<std::optional<gid_t>(const std::string&)> group;
};
AccountDb SystemAccounts();  // getpwnam / getgrnam

struct PrivilegePlan {
  enum class Action { kKeep, kStayRoot, kDrop };
  Action action = Action::kKeep;
  std::string user;  // kDrop: the account dropped to
  uid_t uid = 0;     // kDrop: ids dropped to; otherwise the current effective ids
  gid_t gid = 0;
};

// Errors are kInvalidInput with a message fit for the start-up error line.
Result<PrivilegePlan> PlanPrivilegeDrop(const ServiceAccount& account, uid_t euid,
                                        const AccountDb& db = SystemAccounts());

// Does plan (no-op unless kDrop). Errors are kPermission: the process must exit.
Status DropPrivileges(const PrivilegePlan& plan);

}  // namespace threadmill
