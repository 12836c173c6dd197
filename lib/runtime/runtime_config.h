// runtime_config.h - the handler runtime's configuration: [handlers], [runtime],
// [handler.NAME] and [[routes]].
//
// DESCRIPTION
//   lib/config reserves these sections; ParseRuntimeConfig reads them from Config::document
//   into plain structs and validates them. Every key has a default (conf/threadmill.conf
//   documents them):
//     [handlers] dir = "/etc/threadmill/handlers.d", spool_quota_mb, max_routed_recipients,
//                worker_memory_mb = 512, owner_routing = "own-addresses" | "thread"
//                (router.h), thread_messages_max = 1000 (host->thread)
//     [runtime]  workers, job_timeout_seconds, max_attempts, retry_initial_seconds,
//                retry_max_seconds, recycle_after_jobs, heartbeat_seconds, poll_interval_ms,
//                done_retention_seconds, stop_timeout_seconds,
//                draft_expiry_hours = 168 (drafts awaiting approval longer expire; 0 = never)
//   StoreOptions() is the one place that turns [store] into LMDB environment options: the
//   daemon, the supervisor, workers and threadmillctl all open the store with it.
//     [handler.NAME] free-form table handed to the handler as JSON (init) and through
//                config_get; threadmill itself reads `from`, `from_name` (host->send and the
//                reply's display name), `heartbeat_seconds` (overrides [runtime]),
//                `sends_per_hour` and `sends_per_job` (override [reply]), `module` (the
//                module this handler instance runs: its table name or file name; default:
//                NAME), and its own worker pool: `workers`, `job_timeout_seconds`,
//                `recycle_after_jobs` (each defaults to [runtime]'s); its reply policy
//                keys (`reply_policy`, ...) are read by lib/reply/policy.h;
//                `draft_expiry_hours` (overrides [runtime]).
//     [[routes]] recipient = "help@example.com" | "*@support.example.com" |
//                "reply+*@example.com", handler = "NAME", action = "copy" | "consume",
//                policy = "vacation" | "conversation" (the reply policy of jobs this rule
//                routes; read with the handlers' policies by lib/reply/policy.h)
//
// DIAGNOSTICS
//   Throws config::ConfigError "FILE: section.key: what is wrong" (start-up / reload only).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "reply/reply_config.h"
#include "store/environment.h"

namespace threadmill::runtime {

enum class RouteAction { kCopy, kConsume };
const char* ToString(RouteAction action);

// [handlers] owner_routing: when a thread's owner gets a message of its thread (router.h).
enum class OwnerRouting { kOwnAddresses, kThread };
const char* ToString(OwnerRouting mode);

struct RouteRule {
  std::string pattern;  // lowercased; '*' matches any run of characters
  std::string handler;
  RouteAction action = RouteAction::kCopy;
};

struct HandlerSettings {
  std::string name;
  std::string config_json;                    // the [handler.NAME] table as JSON
  std::map<std::string, std::string> values;  // top-level keys as strings (config_get)
  std::string from;                           // address for host->send
  std::string from_name;
  int64_t heartbeat_seconds = -1;    // -1: [runtime] heartbeat_seconds
  int64_t sends_per_hour = -1;       // -1: [reply] sends_per_hour
  int64_t sends_per_job = -1;        // -1: [reply] sends_per_job
  std::string module;                // "": the module whose table name is `name`
  int64_t workers = -1;              // -1: [runtime] workers
  int64_t job_timeout_seconds = -1;  // -1: [runtime] job_timeout_seconds
  int64_t recycle_after_jobs = -1;   // -1: [runtime] recycle_after_jobs
  int64_t draft_expiry_hours = -1;  // -1: [runtime] draft_expiry_hours
};

struct RuntimeConfig {
  std::string handlers_dir = "/etc/threadmill/handlers.d";
  // RLIMIT_DATA of each worker (heap, anonymous mappings, stacks); 0 = no limit. A worker
  // past 3/4 of it after a task exits and is replaced; past it, its allocations fail.
  int64_t worker_memory_mb = 512;
  // host->thread (ABI 1.1) returns at most this many messages of a thread (the oldest).
  int64_t thread_messages_max = 1000;
  std::string store_path;               // [store] path; the spool lives in store_path/spool
  store::EnvOptions store;              // StoreOptions(config)
  int64_t spool_quota_mb = 2048;        // spooled messages in all; beyond: on_store_error
  int64_t max_routed_recipients = 100;  // jobs one message may create; more are not routed
  OwnerRouting owner_routing = OwnerRouting::kOwnAddresses;  // [handlers] owner_routing
  int64_t workers = 2;
  int64_t job_timeout_seconds = 60;
  int64_t max_attempts = 5;
  int64_t retry_initial_seconds = 30;
  int64_t retry_max_seconds = 3600;
  int64_t recycle_after_jobs = 1000;
  int64_t heartbeat_seconds = 0;           // 0 = no heartbeats unless a handler sets its own
  int64_t poll_interval_ms = 1000;         // queue scan when no wake-up arrives
  int64_t done_retention_seconds = 86400;  // finished jobs stay listable this long
  int64_t stop_timeout_seconds = 10;       // on TERM, running jobs get this long, then requeued
  int64_t draft_expiry_hours = 168;        // drafts awaiting approval longer expire; 0 = never
  std::vector<RouteRule> routes;
  std::map<std::string, HandlerSettings> handlers;  // by name ([handler.NAME] tables)
  reply::ReplyConfig reply;
  // [auth] as the milter has it: workers re-authenticate jobs whose verdict waited for DNS
  // with it (reauth.h).
  config::AuthConfig auth;

  std::string spool_dir() const { return store_path + "/spool"; }
  // Settings of `name` (an empty default when the config has no [handler.NAME]).
  const HandlerSettings& handler(const std::string& name) const;
  // The worker pool of handler `name`: its [handler.NAME] value, else [runtime]'s.
  int64_t workers_of(const std::string& name) const;
  int64_t job_timeout_of(const std::string& name) const;
  int64_t recycle_after_of(const std::string& name) const;
  // Seconds after which a draft of handler `name` expires (0 = never).
  int64_t DraftExpirySeconds(const std::string& name) const;
};

// Throws config::ConfigError.
RuntimeConfig ParseRuntimeConfig(const config::Config& config);

// [store] as LMDB environment options (path, map_size_mb, max_map_size_mb,
// sync_each_commit). Pure.
store::EnvOptions StoreOptions(const config::Config& config);

}  // namespace threadmill::runtime
