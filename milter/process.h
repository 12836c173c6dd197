// process.h - daemon process chores: detaching, pid file, socket preparation, privilege drop.
//
// DESCRIPTION
//   Order at start-up (OpenSMTPD style): decide the privilege drop (a missing service user
//   refuses the start before anything is forked), detach, open the store, bind the socket,
//   then drop to the service user at once (common/privileges.h, the same drop as the handler
//   supervisor's). Root-phase file operations work on descriptors opened without following
//   links others could change (common/safe_open.h): the pid file, the socket directory and
//   socket, the store handed to the service user (common/chown_tree.h). Every failure throws
//   std::runtime_error whose message says what to fix; main prints it on stderr and to the
//   log.
#pragma once

#include <string>

#include "common/privileges.h"
#include "config/config.h"

namespace threadmill::milter {

// [milter] user/group as a privilege plan; throws when the user or group does not exist or is
// root's (common/privileges.h).
PrivilegePlan PlanPrivileges(const config::MilterConfig& milter);
void Daemonize();
// Writes the pid file, refusing to run when another live process holds it, and refusing a pid
// file that is a link, has several hard links or is not ours.
void WritePidFile(const std::string& path);
// Creates the unix socket's directory (owned by the service user) and removes a stale socket.
void PrepareSocketPath(const config::MilterConfig& milter, const PrivilegePlan& plan);
// Applies socket_mode and the service user/group to the bound unix socket.
void SecureSocket(const config::MilterConfig& milter, const PrivilegePlan& plan);
// Creates the store (environment files and spool directory) and hands it to the service user
// before the handler supervisor is forked, so the supervisor, which drops at once, never meets
// files root created under it; no-op unless the plan drops privileges.
void PrepareStore(const config::Config& config, const PrivilegePlan& plan);
// Hands the store directory to the service user (so its workers and threadmillctl can open
// it); no-op unless the plan drops privileges.
void ChownStore(const config::Config& config, const PrivilegePlan& plan);
// Disables Nagle on the listening TCP socket libmilter opened (accepted sockets inherit it):
// libmilter writes header changes and the verdict separately, which otherwise costs ~40 ms.
void SetNoDelayOnListener(const config::MilterConfig& milter);
// Tells systemd (Type=notify) that the socket is bound and mail can flow: "READY=1" to
// $NOTIFY_SOCKET. No-op without systemd.
void NotifyReady();

}  // namespace threadmill::milter
