// config.h - threadmill's configuration: an immutable snapshot loaded from TOML.
//
// DESCRIPTION
//   Load() reads the packaged file and, when present, its local override beside it
//   (threadmill.conf -> threadmill.local.conf), whose keys replace the packaged ones. Every key
//   has a default (conf/threadmill.conf documents them). Unknown sections and keys are errors,
//   so a typo never silently falls back to a default. The daemon holds the snapshot in a
//   std::shared_ptr<const Config> and swaps it on reload.
//
// DIAGNOSTICS
//   Load() throws ConfigError with "FILE: section.key: what is wrong" messages; this is
//   start-up/reload time, never the per-message path.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/cidr.h"
#include "config/config_error.h"
#include "config/socket_spec.h"
#include "log/logger.h"

namespace threadmill::config {

// What the MTA hears when threadmill itself fails (OpenDKIM's On-InternalError and friends).
enum class FailureAction { kAccept, kTempfail };
const char* ToString(FailureAction action);

struct MilterConfig {
  SocketSpec socket;
  unsigned socket_mode = 0660;
  std::string user = "threadmill";
  std::string group;         // the daemon's group ("" = the user's primary group)
  std::string socket_group;  // the unix socket's and its directory's group ("" = group)
  std::string pid_file;
  FailureAction on_internal_error = FailureAction::kAccept;
  FailureAction on_store_error = FailureAction::kAccept;
  std::string hostname;  // resolved to gethostname() when empty
  bool add_message_id = true;
  size_t max_header_bytes = 1 << 20;
  size_t max_header_fields = 10000;          // header fields kept for decisions at most
  size_t max_header_field_bytes = 64 << 10;  // one kept header value at most (cut beyond)
  size_t max_message_bytes = 64 << 20;       // larger messages are delivered but not spooled
  int timeout_seconds = 60;
  // On TERM: how long transactions in flight may take to finish after the socket closed.
  int drain_seconds = 30;
};

struct StoreConfig {
  // "lmdb" (embedded, one host) or "postgresql" (shared by several MX hosts: the thread
  // mappings and the reply ledger live in PostgreSQL; jobs, drafts, KV and counters stay in
  // the LMDB environment at `path` - store/open_store.h).
  std::string backend = "lmdb";
  std::string dsn;  // libpq connection string: [store] dsn, or the content of dsn_file
  // This host among those sharing the database: the owner of its reply-ledger claims
  // (reply/ledger.h, SEVERAL HOSTS). Default: the machine's hostname (gethostname).
  std::string host_id;
  // The client-side bounds of every database call (postgresql only): a connect, and a
  // statement or transaction. One store call waits at most one of them (a transaction:
  // statement_timeout_ms + min(statement_timeout_ms, 1 s)); after a failure the calls of the
  // next 2 s fail at once (store/postgresql/pg_pool.h).
  int64_t connect_timeout_ms = 2000;
  int64_t statement_timeout_ms = 3000;
  std::string path = "/var/lib/threadmill";
  uint64_t map_size_mb = 256;
  uint64_t max_map_size_mb = 16384;
  int64_t retention_days = 180;
  int64_t sweep_interval_seconds = 3600;
  bool sync_each_commit = false;  // sync = "always"; default "periodic"
  int64_t sync_interval_ms = 1000;
  // With backend = "postgresql": how long a claimed job stays leased to this host before
  // another host may take it over (store/job_backend.h). 0: the handler's job timeout plus
  // the reinjection budget plus a margin (runtime/supervisor.cc). Shorter than a job may run
  // means another host may run it again while it still runs (the ledger still replies once).
  int64_t job_lease_seconds = 0;
};

struct DirectionConfig {
  std::vector<Cidr> internal_hosts;
  bool authenticated_is_outbound = true;
  std::vector<std::string> submission_daemons = {"ORIGINATING"};
};

enum class ReplyTokenMode { kOff, kReplyTo, kFrom };

struct ThreadingConfig {
  size_t max_references = 100;
  bool use_thread_index = true;
  // Signed reply addresses (thread/reply_token.h): where outbound mail carries the token.
  ReplyTokenMode reply_token = ReplyTokenMode::kOff;
  std::vector<std::string> token_key_files;  // first signs, all verify
  int64_t token_lifetime_days = 90;
  std::vector<std::string> token_keys;  // the files' keys, read by Load (not a TOML key)
};

// [auth]: inline SPF/DKIM/DMARC (mapped to auth::AuthOptions by the filter).
struct AuthConfig {
  bool enabled = true;
  bool spf = true, dkim = true, dmarc = true;
  bool authenticate_outbound = false;       // outbound mail is ours: normally not verified
  std::vector<std::string> dns_forwarders;  // "127.0.0.1@5353"; empty = /etc/resolv.conf
  int64_t dns_timeout_ms = 5000;
  int64_t message_dns_budget_ms = 0;  // all DNS waits of one message; 0 = 2 x dns_timeout_ms
  std::string dnssec_trust_anchor;    // unbound auto-trust-anchor file, "" = no DNSSEC
  std::string psl_path = "/usr/share/publicsuffix/effective_tld_names.dat";
  std::string authserv_id;            // default: [milter] hostname
  bool add_header = true;             // add Authentication-Results
  bool remove_forged_headers = true;  // drop A-R headers claiming our authserv-id
  // More forged A-R fields than this are not deleted one by one (each is one smfi_chgheader):
  // the message is refused (on_too_many_forged) and so never reaches a mailbox.
  size_t max_forged_deletions = 32;
  bool too_many_forged_tempfail = false;  // on_too_many_forged = "reject" (default) | "tempfail"
  std::vector<std::string> trusted_authserv_ids;  // use these upstream A-R verdicts instead
  bool arc = true;  // verify ARC chains (RFC 8617) of messages that carry ARC fields
  // ARC sealer domains whose recorded dmarc=pass overrides our dmarc=fail (RFC 8617 7.2).
  std::vector<std::string> arc_trusted_sealers;
  size_t max_signatures = 5;
  size_t max_key_lookups = 5;
  // Distinct From domains DMARC evaluates; more: permerror (rejected when enforcing).
  size_t max_author_domains = 10;
  bool enforce_dmarc = false;  // honour p=reject/quarantine (OpenDMARC RejectFailures)
  FailureAction on_dns_error = FailureAction::kAccept;  // temperror: accept or tempfail
  // A routed message whose DMARC (or SPF, when nothing else authenticated MAIL FROM) was
  // temperror waits this long after its arrival for DNS to answer again and is then
  // re-authenticated from the spool before its handler runs; past it the handler gets the
  // temperror verdict (no reply). 0: no waiting. Tried again every reauth_retry_seconds.
  int64_t reauth_window_seconds = 3600;
  int64_t reauth_retry_seconds = 15;
};

struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9466"; empty = no HTTP listener
};

// [web]: threadmill-web, the approval console (web/).
struct WebConfig {
  std::string listen = "unix:/run/threadmill-web/web.sock";  // or "127.0.0.1:8026"
  std::string users_file = "/etc/threadmill/web-users";  // argon2id hashes
  std::string secure_cookies = "auto";  // "auto" (X-Forwarded-Proto: https) | "always" | "never"
  int64_t session_minutes = 480;
  int64_t login_attempts_per_minute = 5;  // per user and per client address
  // Peers (IP addresses) whose X-Forwarded-For and X-Forwarded-Proto are believed: the reverse
  // proxy on a TCP listener. A unix socket's peer always is (its directory admits only the
  // proxy's group). Anyone else's forwarded headers are ignored.
  std::vector<std::string> trusted_proxies;
};

struct Config {
  std::vector<std::string> files;  // the files this snapshot was read from
  MilterConfig milter;
  log::LogOptions log;
  StoreConfig store;
  DirectionConfig direction;
  ThreadingConfig threading;
  AuthConfig auth;
  MetricsConfig metrics;
  WebConfig web;
  toml::table document;  // merged TOML, for sections owned by other modules (auth, handlers)
};

// Loads FILE (and its .local.conf override). Throws ConfigError.
std::shared_ptr<const Config> Load(const std::string& path);

// Parses TOML text (tests, -n on a string). `name` is used in messages. Throws ConfigError.
std::shared_ptr<const Config> LoadFromString(const std::string& text,
                                             const std::string& name = "config");

// The override file read after `path`: "x.conf" -> "x.local.conf".
std::string LocalOverridePath(const std::string& path);

// The file name used in messages for a snapshot ("config" when unknown).
std::string ConfigFileName(const Config& config);

// The table at `name` in the document, null when absent; throws when it is not a table.
const toml::table* SectionTable(const Config& config, const std::string& name);

}  // namespace threadmill::config
