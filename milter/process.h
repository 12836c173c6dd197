// process.h - daemon process chores: detaching, pid file, socket preparation, privilege drop.
//
// DESCRIPTION
//   Order at start-up (OpenSMTPD style): detach, open the store, bind the socket, then drop to
//   the service user at once. Every failure throws std::runtime_error whose message says what
//   to fix; main prints it on stderr and to the log.
#pragma once

#include <string>

#include "config/config.h"

namespace threadmill::milter {

void Daemonize();
// Writes the pid file, refusing to run when another live process holds it.
void WritePidFile(const std::string& path);
// Creates the unix socket's directory (owned by the service user) and removes a stale socket.
void PrepareSocketPath(const config::MilterConfig& milter);
// Applies socket_mode and the service user/group to the bound unix socket.
void SecureSocket(const config::MilterConfig& milter);
// Hands the store directory to the service user (so its workers and threadmillctl can open it).
void ChownStore(const config::Config& config);
// Disables Nagle on the listening TCP socket libmilter opened (accepted sockets inherit it):
// libmilter writes header changes and the verdict separately, which otherwise costs ~40 ms.
void SetNoDelayOnListener(const config::MilterConfig& milter);
// setgid/initgroups/setuid to the configured user; no-op when the user is empty or we are not
// root.
void DropPrivileges(const config::MilterConfig& milter);
// Tells systemd (Type=notify) that the socket is bound and mail can flow: "READY=1" to
// $NOTIFY_SOCKET. No-op without systemd.
void NotifyReady();

}  // namespace threadmill::milter
