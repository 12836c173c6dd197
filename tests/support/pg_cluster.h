// pg_cluster.h - a private PostgreSQL cluster for tests: initdb + pg_ctl in a fresh temporary
// directory, listening on a free port of 127.0.0.1 (and a socket in that directory only),
// never the machine's own cluster. Stopped by the postmaster's PID.
//
// DESCRIPTION
//   PgCluster::Start() finds the newest /usr/lib/postgresql/<N>/bin (Debian's `postgresql`
//   package; THREADMILL_TEST_PG_BINDIR=DIR forces another), runs initdb (trust authentication,
//   superuser "tm") and starts the server with `pg_ctl -w` (pg_ctl waits until the server accepts
//   connections), then polls PQping with a deadline until it answers. As root the binaries run as
//   user "postgres" (runuser) and the directory is given to that user. When the port picked turns
//   out to be taken meanwhile (another test), it tries another one. NewDatabase() creates an empty
//   database and returns its DSN, so tests sharing a cluster never see each other's rows.
//
// LIMITS
//   Start: at most kStartAttempts ports, each start bounded by kStartTimeoutSeconds. Stop:
//   SIGINT (fast shutdown), then SIGKILL after kStopTimeoutSeconds. The reason a cluster
//   cannot be started is in error(); absent binaries set skip_reason() instead.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace threadmill::testing {

class PgCluster {
 public:
  static constexpr int kStartAttempts = 5;
  static constexpr int kStartTimeoutSeconds = 60;
  static constexpr int kStopTimeoutSeconds = 30;

  PgCluster() = default;
  ~PgCluster() { Stop(); }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // True when the server runs; otherwise skip_reason() (no binaries) or error() says why.
  bool Start();
  void Stop();
  // Stops the server by PID but keeps its data; StartAgain() starts it on the same port.
  void StopServer();
  bool StartAgain();

  // A DSN for database `dbname` of the cluster.
  std::string Dsn(const std::string& dbname = "postgres") const;
  // Creates a fresh database; returns its DSN, "" on failure (error() says why).
  std::string NewDatabase();

  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  bool StartOn(int port);
  bool Run(const std::vector<std::string>& argv);

  std::string bindir_;
  std::string dir_;
  bool as_postgres_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
  std::string skip_reason_;
  std::string error_;
};

}  // namespace threadmill::testing
