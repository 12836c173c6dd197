#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "common/secret_file.h"
#include "config/toml_reader.h"

namespace threadmill::config {
namespace {

// Sections parsed here, and sections other modules read from Config::document.
const std::map<std::string, std::set<std::string>>& KnownKeys() {
  static const std::map<std::string, std::set<std::string>> keys = {
      {"milter",
       {"socket", "socket_mode", "user", "group", "socket_group", "pid_file", "on_internal_error",
        "on_store_error", "hostname", "add_message_id", "max_header_bytes", "max_message_bytes",
        "timeout_seconds", "max_header_fields", "max_header_field_bytes", "drain_seconds"}},
      {"log", {"target", "facility", "level"}},
      {"store",
       {"backend", "dsn", "dsn_file", "host_id", "connect_timeout_ms", "statement_timeout_ms",
        "job_lease_seconds", "path", "map_size_mb", "max_map_size_mb", "retention_days",
        "sweep_interval_seconds", "sync", "sync_interval_ms"}},
      {"direction", {"internal_hosts", "authenticated_is_outbound", "submission_daemons"}},
      {"threading",
       {"max_references", "use_thread_index", "reply_token", "token_key_files",
        "token_lifetime_days"}},
      {"auth",
       {"enabled", "spf", "dkim", "dmarc", "authenticate_outbound", "dns_forwarders",
        "dns_timeout_ms", "message_dns_budget_ms", "dnssec_trust_anchor", "psl_path", "authserv_id",
        "add_header", "remove_forged_headers", "trusted_authserv_ids", "max_signatures",
        "max_key_lookups", "max_author_domains", "enforce_dmarc", "on_dns_error",
        "max_forged_deletions", "on_too_many_forged", "reauth_window_seconds",
        "reauth_retry_seconds", "arc", "arc_trusted_sealers"}},
      {"metrics", {"listen"}},
      {"web",
       {"listen", "users_file", "secure_cookies", "session_minutes", "login_attempts_per_minute",
        "trusted_proxies"}},
  };
  return keys;
}
const std::set<std::string>& ForeignSections() {
  static const std::set<std::string> sections = {"handlers", "handler", "routes",
                                                 "reply",    "runtime", "token"};
  return sections;
}

// A reader for one of this file's sections of `root` (absent: every Get keeps its default).
TomlReader Section(const toml::table& root, const std::string& section, const std::string& file) {
  const toml::node* node = root.get(section);
  if (node && !node->is_table()) {
    throw ConfigError(file + ": " + section + ": must be a table ([" + section + "])");
  }
  return TomlReader(node ? node->as_table() : nullptr, section, file);
}

constexpr int64_t kMax = INT64_MAX;

void CheckKnownKeys(const toml::table& root, const std::string& file) {
  for (const auto& [key, node] : root) {
    std::string section(key.str());
    if (ForeignSections().count(section)) continue;
    auto known = KnownKeys().find(section);
    if (known == KnownKeys().end()) {
      throw ConfigError(file + ": unknown section [" + section + "]");
    }
    if (!node.is_table()) throw ConfigError(file + ": " + section + ": must be a table");
    for (const auto& [sub, value] : *node.as_table()) {
      if (!known->second.count(std::string(sub.str()))) {
        throw ConfigError(file + ": " + section + "." + std::string(sub.str()) + ": unknown key");
      }
    }
  }
}

FailureAction ParseAction(const TomlReader& reader, const std::string& key,
                          const std::string& text) {
  if (text == "accept") return FailureAction::kAccept;
  if (text == "tempfail") return FailureAction::kTempfail;
  reader.Fail(key, "must be \"accept\" or \"tempfail\", not \"" + text + "\"");
}

void ReadMilter(const toml::table& root, const std::string& file, MilterConfig* m) {
  TomlReader r = Section(root, "milter", file);
  std::string socket = "local:/var/spool/postfix/threadmill/threadmill.sock";
  std::string mode = "0660", internal = "accept", store = "accept";
  r.Get("socket", &socket);
  r.Get("socket_mode", &mode);
  r.Get("user", &m->user);
  r.Get("group", &m->group);
  r.Get("socket_group", &m->socket_group);
  r.Get("pid_file", &m->pid_file);
  r.Get("on_internal_error", &internal);
  r.Get("on_store_error", &store);
  r.Get("hostname", &m->hostname);
  r.Get("add_message_id", &m->add_message_id);
  r.GetInt("max_header_bytes", &m->max_header_bytes, 4096, kMax);
  r.GetInt("max_message_bytes", &m->max_message_bytes, 0, kMax);
  r.GetInt("timeout_seconds", &m->timeout_seconds, 1, 3600);
  r.GetInt("max_header_fields", &m->max_header_fields, 100, kMax);
  r.GetInt("max_header_field_bytes", &m->max_header_field_bytes, 1024, kMax);
  r.GetInt("drain_seconds", &m->drain_seconds, 0, 3600);
  std::string why;
  auto spec = ParseSocketSpec(socket, &why);
  if (!spec) r.Fail("socket", why);
  m->socket = *spec;
  try {
    size_t used = 0;
    m->socket_mode = static_cast<unsigned>(std::stoul(mode, &used, 8));
    if (used != mode.size() || m->socket_mode > 0777) throw std::invalid_argument(mode);
  } catch (const std::exception&) {
    r.Fail("socket_mode", "must be an octal mode such as \"0660\"");
  }
  m->on_internal_error = ParseAction(r, "on_internal_error", internal);
  m->on_store_error = ParseAction(r, "on_store_error", store);
  if (m->hostname.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) m->hostname = host;
    if (m->hostname.empty()) m->hostname = "localhost";
  }
}

void ReadLog(const toml::table& root, const std::string& file, log::LogOptions* l) {
  TomlReader r = Section(root, "log", file);
  r.Get("target", &l->target);
  r.Get("facility", &l->facility);
  r.Get("level", &l->level);
  if (std::string why = log::Validate(*l); !why.empty()) r.Fail("", why);
}

// [store] backend, dsn, dsn_file. The DSN is a libpq connection string; dsn_file (read as a
// secret file: not group/world readable) keeps its password out of the main config.
void ReadStoreBackend(const TomlReader& r, StoreConfig* s) {
  r.Get("host_id", &s->host_id);
  if (s->host_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) s->host_id = host;
    if (s->host_id.empty()) s->host_id = "localhost";
  }
  if (s->host_id.size() > 255 || s->host_id.find_first_of(" \t\r\n\"") != std::string::npos) {
    r.Fail("host_id", "must be at most 255 bytes without spaces or quotes");
  }
  // The milter waits for these per message: far below Postfix's milter_command_timeout (30 s).
  r.Get("connect_timeout_ms", &s->connect_timeout_ms, 100, 20000);
  r.Get("statement_timeout_ms", &s->statement_timeout_ms, 100, 20000);
  r.Get("backend", &s->backend);
  if (s->backend != "lmdb" && s->backend != "postgresql") {
    r.Fail("backend", "must be \"lmdb\" or \"postgresql\"");
  }
  std::string dsn_file;
  r.Get("dsn", &s->dsn);
  r.Get("dsn_file", &dsn_file);
  r.Get("job_lease_seconds", &s->job_lease_seconds, 0, 86400);
  if (s->backend == "lmdb") {
    if (!s->dsn.empty()) r.Fail("dsn", "is only used with backend = \"postgresql\"");
    if (!dsn_file.empty()) r.Fail("dsn_file", "is only used with backend = \"postgresql\"");
    return;
  }
  if (!s->dsn.empty() && !dsn_file.empty()) r.Fail("dsn", "give dsn or dsn_file, not both");
  if (!dsn_file.empty()) {
    if (dsn_file.front() != '/') r.Fail("dsn_file", "must be an absolute path");
    auto dsn = ReadSecretFile(dsn_file, 1);
    if (!dsn.ok()) r.Fail("dsn_file", dsn.error().message);
    s->dsn = *dsn;
  }
  if (s->dsn.empty()) {
    r.Fail("dsn", "backend = \"postgresql\" needs dsn or dsn_file (a libpq connection string)");
  }
}

void ReadStore(const toml::table& root, const std::string& file, StoreConfig* s) {
  TomlReader r = Section(root, "store", file);
  r.Get("path", &s->path);
  r.GetInt("map_size_mb", &s->map_size_mb, 1, 1 << 30);
  r.GetInt("max_map_size_mb", &s->max_map_size_mb, 1, 1 << 30);
  r.Get("retention_days", &s->retention_days, 0, 36500);
  r.Get("sweep_interval_seconds", &s->sweep_interval_seconds, 1, kMax);
  if (s->path.empty() || s->path.front() != '/') r.Fail("path", "must be an absolute path");
  if (s->max_map_size_mb < s->map_size_mb) r.Fail("max_map_size_mb", "must be >= map_size_mb");
  std::string sync = "periodic";
  r.Get("sync", &sync);
  if (sync != "periodic" && sync != "always") r.Fail("sync", "must be \"periodic\" or \"always\"");
  s->sync_each_commit = sync == "always";
  r.Get("sync_interval_ms", &s->sync_interval_ms, 10, kMax);
  ReadStoreBackend(r, s);
}

void ReadDirection(const toml::table& root, const std::string& file, DirectionConfig* d) {
  TomlReader r = Section(root, "direction", file);
  std::vector<std::string> hosts = {"127.0.0.0/8", "::1"};
  r.Get("internal_hosts", &hosts);
  for (const auto& host : hosts) {
    auto cidr = Cidr::Parse(host);
    if (!cidr) r.Fail("internal_hosts", "\"" + host + "\" is not an address or network");
    d->internal_hosts.push_back(*cidr);
  }
  r.Get("authenticated_is_outbound", &d->authenticated_is_outbound);
  r.Get("submission_daemons", &d->submission_daemons);
}

// A reply-token key (common/secret_file.h). Keys are read as root at start; a reload after
// the service dropped privileges keeps the key it read before when the file is unreadable.
std::string TokenKey(const std::string& path, const std::string& file) {
  static std::mutex mutex;
  static std::map<std::string, std::string> read_before;
  auto key = ReadSecretFile(path, 16);
  std::lock_guard lock(mutex);
  if (key.ok()) return read_before[path] = *key;
  auto kept = read_before.find(path);
  if (key.error().code == ErrorCode::kPermission && kept != read_before.end() &&
      key.error().message.find("Permission denied") != std::string::npos) {
    return kept->second;
  }
  throw ConfigError(file + ": threading.token_key_files: token " + key.error().message);
}

void ReadThreading(const toml::table& root, const std::string& file, ThreadingConfig* t) {
  TomlReader r = Section(root, "threading", file);
  r.GetInt("max_references", &t->max_references, 0, kMax);
  r.Get("use_thread_index", &t->use_thread_index);
  std::string mode = "off";
  r.Get("reply_token", &mode);
  if (mode == "off") {
    t->reply_token = ReplyTokenMode::kOff;
  } else if (mode == "reply-to") {
    t->reply_token = ReplyTokenMode::kReplyTo;
  } else if (mode == "from") {
    t->reply_token = ReplyTokenMode::kFrom;
  } else {
    throw ConfigError(file + ": threading.reply_token: must be \"off\", \"reply-to\" or \"from\"");
  }
  r.Get("token_key_files", &t->token_key_files);
  r.GetInt("token_lifetime_days", &t->token_lifetime_days, 1, 3650);
  if (t->reply_token != ReplyTokenMode::kOff && t->token_key_files.empty()) {
    throw ConfigError(file + ": threading.reply_token = \"" + mode +
                      "\" needs threading.token_key_files");
  }
  for (const std::string& path : t->token_key_files) t->token_keys.push_back(TokenKey(path, file));
}

void ReadAuth(const toml::table& root, const std::string& file, const MilterConfig& milter,
              AuthConfig* a) {
  TomlReader r = Section(root, "auth", file);
  r.Get("enabled", &a->enabled);
  r.Get("spf", &a->spf);
  r.Get("dkim", &a->dkim);
  r.Get("dmarc", &a->dmarc);
  r.Get("authenticate_outbound", &a->authenticate_outbound);
  r.Get("dns_forwarders", &a->dns_forwarders);
  r.Get("dns_timeout_ms", &a->dns_timeout_ms, 100, 60000);
  r.Get("message_dns_budget_ms", &a->message_dns_budget_ms, 0, 600000);
  if (a->message_dns_budget_ms == 0) a->message_dns_budget_ms = 2 * a->dns_timeout_ms;
  r.Get("dnssec_trust_anchor", &a->dnssec_trust_anchor);
  r.Get("psl_path", &a->psl_path);
  r.Get("authserv_id", &a->authserv_id);
  r.Get("add_header", &a->add_header);
  r.Get("remove_forged_headers", &a->remove_forged_headers);
  r.Get("trusted_authserv_ids", &a->trusted_authserv_ids);
  r.Get("arc", &a->arc);
  r.Get("arc_trusted_sealers", &a->arc_trusted_sealers);
  r.GetInt("max_signatures", &a->max_signatures, 0, 100);
  r.GetInt("max_key_lookups", &a->max_key_lookups, 0, 100);
  r.GetInt("max_author_domains", &a->max_author_domains, 1, 100);
  r.Get("enforce_dmarc", &a->enforce_dmarc);
  std::string dns_error = "accept";
  r.Get("on_dns_error", &dns_error);
  a->on_dns_error = ParseAction(r, "on_dns_error", dns_error);
  r.Get("reauth_window_seconds", &a->reauth_window_seconds, 0, 7 * 86400);
  r.Get("reauth_retry_seconds", &a->reauth_retry_seconds, 1, 3600);
  r.GetInt("max_forged_deletions", &a->max_forged_deletions, 0, 1000);
  std::string too_many = "reject";
  r.Get("on_too_many_forged", &too_many);
  if (too_many != "reject" && too_many != "tempfail") {
    r.Fail("on_too_many_forged", "must be \"reject\" or \"tempfail\", not \"" + too_many + "\"");
  }
  a->too_many_forged_tempfail = too_many == "tempfail";
  for (const auto& forwarder : a->dns_forwarders) {
    auto at = forwarder.find('@');
    if (!ParseIp(forwarder.substr(0, at))) {
      r.Fail("dns_forwarders", "\"" + forwarder + "\" is not ADDRESS or ADDRESS@PORT");
    }
  }
  if (a->authserv_id.empty()) a->authserv_id = milter.hostname;
  if (a->enabled && a->dmarc && !a->psl_path.empty() && access(a->psl_path.c_str(), R_OK) != 0) {
    r.Fail("psl_path", "cannot read " + a->psl_path + " (install the publicsuffix package)");
  }
}

void ReadWeb(const toml::table& root, const std::string& file, WebConfig* w) {
  TomlReader r = Section(root, "web", file);
  r.Get("listen", &w->listen);
  r.Get("users_file", &w->users_file);
  r.Get("secure_cookies", &w->secure_cookies);
  r.Get("session_minutes", &w->session_minutes, 1, 60 * 24 * 366);
  r.Get("login_attempts_per_minute", &w->login_attempts_per_minute, 1, 100000);
  r.Get("trusted_proxies", &w->trusted_proxies);
  for (const std::string& proxy : w->trusted_proxies) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, proxy.c_str(), buf) != 1 && inet_pton(AF_INET6, proxy.c_str(), buf) != 1) {
      r.Fail("trusted_proxies", "\"" + proxy + "\" is not an IP address");
    }
  }
  if (w->secure_cookies != "auto" && w->secure_cookies != "always" &&
      w->secure_cookies != "never") {
    r.Fail("secure_cookies", "must be \"auto\", \"always\" or \"never\"");
  }
  if (w->users_file.empty() || w->users_file.front() != '/') {
    r.Fail("users_file", "must be an absolute path");
  }
  if (!w->listen.starts_with("unix:/") && w->listen.find(':') == std::string::npos) {
    r.Fail("listen", "must be unix:/PATH or HOST:PORT");
  }
}

std::shared_ptr<const Config> Build(toml::table document, std::vector<std::string> files) {
  std::string name = files.empty() ? "config" : files.back();
  CheckKnownKeys(document, name);
  auto config = std::make_shared<Config>();
  ReadMilter(document, name, &config->milter);
  ReadLog(document, name, &config->log);
  ReadStore(document, name, &config->store);
  ReadDirection(document, name, &config->direction);
  ReadThreading(document, name, &config->threading);
  ReadAuth(document, name, config->milter, &config->auth);
  Section(document, "metrics", name).Get("listen", &config->metrics.listen);
  ReadWeb(document, name, &config->web);
  config->document = std::move(document);
  config->files = std::move(files);
  return config;
}

toml::table Parse(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                      ": " + std::string(e.description()));
  }
}

// Override keys win, section by section.
void Merge(toml::table* base, const toml::table& override) {
  for (const auto& [key, node] : override) {
    auto* existing = base->get(key);
    if (existing && existing->is_table() && node.is_table()) {
      Merge(existing->as_table(), *node.as_table());
    } else {
      base->insert_or_assign(key, node);
    }
  }
}

}  // namespace

const char* ToString(FailureAction action) {
  return action == FailureAction::kAccept ? "accept" : "tempfail";
}

std::string LocalOverridePath(const std::string& path) {
  std::filesystem::path p(path);
  if (p.extension() == ".conf") return (p.parent_path() / p.stem()).string() + ".local.conf";
  return path + ".local";
}

std::shared_ptr<const Config> Load(const std::string& path) {
  if (!std::filesystem::exists(path)) throw ConfigError(path + ": no such file");
  toml::table document = Parse(path);
  std::vector<std::string> files = {path};
  std::string local = LocalOverridePath(path);
  if (std::filesystem::exists(local)) {
    Merge(&document, Parse(local));
    files.push_back(local);
  }
  return Build(std::move(document), std::move(files));
}

std::shared_ptr<const Config> LoadFromString(const std::string& text, const std::string& name) {
  try {
    return Build(toml::parse(text, name), {name});
  } catch (const toml::parse_error& e) {
    throw ConfigError(name + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()));
  }
}

std::string ConfigFileName(const Config& config) {
  return config.files.empty() ? std::string("config") : config.files.front();
}

const toml::table* SectionTable(const Config& config, const std::string& name) {
  const toml::node* node = config.document.get(name);
  if (!node) return nullptr;
  const toml::table* table = node->as_table();
  if (!table) {
    throw ConfigError(ConfigFileName(config) + ": " + name + ": must be a table ([" + name + "])");
  }
  return table;
}

}  // namespace threadmill::config
