// console.h - threadmill-web's HTTP handlers: login, sessions, CSRF, roles, pages, actions.
//
// DESCRIPTION
//   The URL, form and element-id contract is in web/README.md (and the README's "The approval
//   console"). Every response carries a strict Content-Security-Policy (no script at all),
//   X-Frame-Options DENY, nosniff, no-referrer and Cache-Control no-store. GET pages need a
//   session (else 303 /login); every POST needs a session and its CSRF token in the form field
//   `csrf` (else 403) and, for actions, an account that may act on that handler (else 403).
//   Drafts and jobs are changed only through admin::Actions (the code threadmillctl runs);
//   every action writes one key=value line to the daemon's [log] target:
//     threadmill-web: action=approve draft=ID user=alice role=approver result=sent reply=<id>
//   and the draft's history records it with by="web:USER".
//
// THREADING
//   httplib calls the handlers from its worker threads: sessions, limiter and accounts cache
//   lock themselves; actions run under one mutex (one writer at a time, like LMDB anyway).
#pragma once

#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <httplib.h>

#include "admin/actions.h"
#include "config/config.h"
#include "store/environment.h"
#include "web/accounts.h"
#include "web/rate_limiter.h"
#include "web/render.h"
#include "web/sessions.h"

namespace threadmill::web {

// The accounts file, read again when it changes (passwd while the console runs).
class AccountsCache {
 public:
  explicit AccountsCache(std::string path) : path_(std::move(path)) {}
  // The current accounts; the last good ones when the file became unreadable.
  std::shared_ptr<const Accounts> Get();

 private:
  std::string path_;
  std::mutex mutex_;
  std::shared_ptr<const Accounts> accounts_;
  struct timespec mtime_ {};
  ino_t inode_ = 0;
  off_t size_ = -1;
};

class Console {
 public:
  Console(std::shared_ptr<const config::Config> config, std::shared_ptr<store::Environment> env);

  // Registers every route, the default security headers and the limits on `server`.
  void Install(httplib::Server& server);

 private:
  struct Who {
    Session session;
    Account account;
    std::string by() const { return "web:" + account.user; }
  };

  // The logged-in account of a request, if any.
  std::optional<Who> Authenticate(const httplib::Request& req);
  // For POST routes: the account when its session and CSRF token are valid, else answers 403.
  std::optional<Who> AuthenticatePost(const httplib::Request& req, httplib::Response& res);
  // Answers with a page.
  void Page(httplib::Response& res, const std::string& tmpl, const View& view, Frame frame,
            const Who* who, int status = 200);
  void Error(httplib::Response& res, int status, const std::string& message, const Who* who);
  void Redirect(httplib::Response& res, const std::string& to);
  bool SecureRequest(const httplib::Request& req) const;
  // The peer is the reverse proxy: a unix socket's peer or one of [web] trusted_proxies.
  bool FromProxy(const httplib::Request& req) const;
  std::string Cookie(const std::string& name, const std::string& value, int64_t max_age,
                     const std::string& path, bool secure) const;
  void LogAction(const Who& who, const std::string& action, const std::string& object_key,
                 const std::string& object_id, const std::string& result,
                 const std::string& detail_key = {}, const std::string& detail = {}) const;

  // Routes (console.cc).
  void GetLogin(const httplib::Request& req, httplib::Response& res);
  void PostLogin(const httplib::Request& req, httplib::Response& res);
  void PostLogout(const httplib::Request& req, httplib::Response& res);
  void PostDraftAction(const httplib::Request& req, httplib::Response& res,
                       const std::string& action);
  void PostJobAction(const httplib::Request& req, httplib::Response& res,
                     const std::string& action);
  // Pages (console_pages.cc).
  void GetDrafts(const httplib::Request& req, httplib::Response& res);
  void GetDraft(const httplib::Request& req, httplib::Response& res);
  void GetThreads(const httplib::Request& req, httplib::Response& res);
  void GetThread(const httplib::Request& req, httplib::Response& res);
  void GetJobs(const httplib::Request& req, httplib::Response& res);
  void GetKv(const httplib::Request& req, httplib::Response& res);
  void GetStats(const httplib::Request& req, httplib::Response& res);

  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::Environment> env_;
  AccountsCache accounts_;
  SessionStore sessions_;
  RateLimiter limiter_;
  std::mutex actions_mutex_;
  admin::Actions actions_;
};

// "2026-12-07 12:45 UTC" ("" for 0).
std::string FormatTime(int64_t unix_seconds);

}  // namespace threadmill::web
