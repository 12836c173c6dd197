#include "web/console.h"

#include <algorithm>
#include <ctime>

#include "log/kv_line.h"
#include "log/logger.h"
#include "web/assets.h"
#include "web/cookie_header.h"
#include "web/display_text.h"

namespace threadmill::web {
namespace {

constexpr const char* kSessionCookie = "tm_session";
constexpr const char* kLoginCookie = "tm_login";
constexpr const char* kCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";
constexpr size_t kMaxNoteBytes = 500;

// The value of cookie `name` in the request's Cookie header(s), "" when absent.
std::string RequestCookie(const httplib::Request& req, std::string_view name) {
  size_t count = req.get_header_value_count("Cookie");
  for (size_t i = 0; i < count; ++i) {
    std::string value = CookieValue(req.get_header_value("Cookie", i), name);
    if (!value.empty()) return value;
  }
  return "";
}

bool IsToken(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// `from_proxy`: the peer is the reverse proxy (Console::FromProxy).
std::string ClientAddress(const httplib::Request& req, bool from_proxy) {
  // Behind the reverse proxy (the documented set-up) the peer is the proxy: it must set
  // X-Forwarded-For; its last hop is the address the proxy saw. Anyone else could write any
  // address there (and dodge the per-address login limit): their header is ignored.
  std::string forwarded = from_proxy ? req.get_header_value("X-Forwarded-For") : "";
  if (!forwarded.empty()) {
    size_t comma = forwarded.rfind(',');
    std::string last = comma == std::string::npos ? forwarded : forwarded.substr(comma + 1);
    while (!last.empty() && last.front() == ' ') last.erase(0, 1);
    if (!last.empty()) return last;
  }
  return req.remote_addr.empty() ? "local" : req.remote_addr;
}

std::string Note(const httplib::Request& req) {
  std::string note = req.get_param_value("note");
  if (note.size() > kMaxNoteBytes) note.resize(kMaxNoteBytes);
  return note;
}

}  // namespace

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::shared_ptr<const Accounts> AccountsCache::Get() {
  std::lock_guard lock(mutex_);
  struct stat st {};
  bool exists = stat(path_.c_str(), &st) == 0;
  bool changed = !accounts_ || !exists || st.st_ino != inode_ || st.st_size != size_ ||
                 st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec;
  if (!changed) return accounts_;
  auto loaded = Accounts::Load(path_);
  if (!loaded.ok()) {
    log::Get().warn("threadmill-web: accounts={} error=\"{}\"", path_, loaded.error().message);
    if (!accounts_) accounts_ = std::make_shared<const Accounts>();
    return accounts_;
  }
  accounts_ = std::make_shared<const Accounts>(std::move(*loaded));
  if (exists) {
    inode_ = st.st_ino;
    size_ = st.st_size;
    mtime_ = st.st_mtim;
  } else {
    size_ = -1;
  }
  return accounts_;
}

Console::Console(std::shared_ptr<const config::Config> config,
                 std::shared_ptr<store::Environment> env)
    : config_(config),
      env_(env),
      accounts_(config->web.users_file),
      sessions_(config->web.session_minutes * 60),
      limiter_(config->web.login_attempts_per_minute),
      actions_(*config, env) {}

void Console::Install(httplib::Server& server) {
  server.set_default_headers({{"Content-Security-Policy", kCsp},
                              {"X-Content-Type-Options", "nosniff"},
                              {"X-Frame-Options", "DENY"},
                              {"Referrer-Policy", "no-referrer"},
                              {"Cache-Control", "no-store"}});
  server.set_payload_max_length(4 << 20);
  server.set_read_timeout(10, 0);
  // httplib answers a handler's exception with 500 and the exception's text in a header:
  // log it instead, and show nothing of it.
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log::Get().error("threadmill-web: {} {}: {}", req.method, req.path, what);
        res.status = 500;
        res.set_content("", "text/plain");
      });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content("<!DOCTYPE html><title>" + std::to_string(res.status) + "</title><p>Error " +
                          std::to_string(res.status) + "</p>",
                      "text/html; charset=utf-8");
    }
  });
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  server.Get("/", [this](Req, Res res) { Redirect(res, "/drafts"); });
  server.Get("/static/console.css", [](Req, Res res) {
    res.set_content(Assets().at("console.css"), "text/css; charset=utf-8");
  });
  server.Get("/login", [this](Req req, Res res) { GetLogin(req, res); });
  server.Post("/login", [this](Req req, Res res) { PostLogin(req, res); });
  server.Post("/logout", [this](Req req, Res res) { PostLogout(req, res); });
  server.Get("/drafts", [this](Req req, Res res) { GetDrafts(req, res); });
  server.Get(R"(/drafts/([A-Za-z0-9]{1,64}))", [this](Req req, Res res) { GetDraft(req, res); });
  for (std::string action : {"edit", "approve", "reject"}) {
    server.Post(R"(/drafts/([A-Za-z0-9]{1,64})/)" + action,
                [this, action](Req req, Res res) { PostDraftAction(req, res, action); });
  }
  server.Get("/threads", [this](Req req, Res res) { GetThreads(req, res); });
  server.Get(R"(/threads/([A-Za-z0-9]{1,64}))", [this](Req req, Res res) { GetThread(req, res); });
  server.Get("/jobs", [this](Req req, Res res) { GetJobs(req, res); });
  for (std::string action : {"retry", "park"}) {
    server.Post(R"(/jobs/([A-Za-z0-9]{1,64})/)" + action,
                [this, action](Req req, Res res) { PostJobAction(req, res, action); });
  }
  server.Get(R"(/handlers/([A-Za-z0-9._-]{1,64})/kv)",
             [this](Req req, Res res) { GetKv(req, res); });
  server.Get("/stats", [this](Req req, Res res) { GetStats(req, res); });
}

std::optional<Console::Who> Console::Authenticate(const httplib::Request& req) {
  std::string id = RequestCookie(req, kSessionCookie);
  if (!IsToken(id)) return std::nullopt;
  auto session = sessions_.Find(id, admin::NowSeconds());
  if (!session) return std::nullopt;
  auto accounts = accounts_.Get();
  const Account* account = accounts->Find(session->user);
  if (!account) {  // removed from the file: logged out
    sessions_.Remove(id);
    return std::nullopt;
  }
  return Who{std::move(*session), *account};
}

std::optional<Console::Who> Console::AuthenticatePost(const httplib::Request& req,
                                                      httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who || !TokensEqual(req.get_param_value("csrf"), who->session.csrf)) {
    Error(res, 403,
          "This form has expired or did not come from this console. Go back, reload "
          "the page and try again.",
          who ? &*who : nullptr);
    return std::nullopt;
  }
  return who;
}

void Console::Page(httplib::Response& res, const std::string& tmpl, const View& view, Frame frame,
                   const Who* who, int status) {
  if (who) {
    frame.user = DisplayText(who->account.user);
    frame.role = ToString(who->account.role);
    frame.csrf = who->session.csrf;
    if (frame.flash.empty() && !who->session.flash.empty()) {
      frame.flash = who->session.flash;
      frame.flash_error =
          frame.flash.rfind("Refused", 0) == 0 || frame.flash.rfind("Error", 0) == 0;
    }
  }
  res.status = status;
  res.set_content(RenderPage(tmpl, view, frame), "text/html; charset=utf-8");
}

void Console::Error(httplib::Response& res, int status, const std::string& message,
                    const Who* who) {
  View view;
  view.set("heading", status == 403   ? "Not allowed"
                      : status == 404 ? "Not found"
                      : status == 429 ? "Too many attempts"
                                      : "Error");
  view.set("message", DisplayText(message));
  Frame frame;
  frame.title = "Error";
  frame.page = "error";
  Page(res, "error.mustache", view, frame, who, status);
}

void Console::Redirect(httplib::Response& res, const std::string& to) {
  res.status = 303;
  res.set_header("Location", to);
}

bool Console::SecureRequest(const httplib::Request& req) const {
  const std::string& mode = config_->web.secure_cookies;
  if (mode == "always") return true;
  if (mode == "never") return false;
  return FromProxy(req) && req.get_header_value("X-Forwarded-Proto") == "https";
}

bool Console::FromProxy(const httplib::Request& req) const {
  if (req.remote_addr.empty()) return true;  // a unix socket's peer
  const auto& trusted = config_->web.trusted_proxies;
  return std::find(trusted.begin(), trusted.end(), req.remote_addr) != trusted.end();
}

std::string Console::Cookie(const std::string& name, const std::string& value, int64_t max_age,
                            const std::string& path, bool secure) const {
  return name + "=" + value + "; Path=" + path + "; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

void Console::LogAction(const Who& who, const std::string& action, const std::string& object_key,
                        const std::string& object_id, const std::string& result,
                        const std::string& detail_key, const std::string& detail) const {
  log::KvLine line("threadmill-web: ");
  line.Add("action", action)
      .Add(object_key, object_id)
      .Add("user", who.account.user)
      .Add("role", ToString(who.account.role))
      .Add("result", result);
  if (!detail_key.empty()) line.Add(detail_key, detail);
  log::Get().info("{}", line.str());
}

void Console::GetLogin(const httplib::Request& req, httplib::Response& res) {
  if (Authenticate(req)) return Redirect(res, "/drafts");
  std::string token = RequestCookie(req, kLoginCookie);
  if (!IsToken(token)) {
    token = RandomToken();
    res.set_header("Set-Cookie", Cookie(kLoginCookie, token, 3600, "/login", SecureRequest(req)));
  }
  View view;
  view.set("csrf", token);
  view.set("user_name", "");
  Frame frame;
  frame.title = "Log in";
  frame.page = "login";
  Page(res, "login.mustache", view, frame, nullptr);
}

void Console::PostLogin(const httplib::Request& req, httplib::Response& res) {
  std::string token = RequestCookie(req, kLoginCookie);
  if (!IsToken(token) || !TokensEqual(req.get_param_value("csrf"), token)) {
    return Error(res, 403, "The login form has expired. Reload the login page and try again.",
                 nullptr);
  }
  const std::string user = req.get_param_value("user");
  const std::string password = req.get_param_value("password");
  const std::string client = ClientAddress(req, FromProxy(req));
  const int64_t now = admin::NowSeconds();
  View view;
  view.set("csrf", token);
  view.set("user_name", DisplayText(user));
  Frame frame;
  frame.title = "Log in";
  frame.page = "login";
  frame.flash_error = true;
  std::string user_key = "user:" + user.substr(0, 64);
  std::string addr_key = "addr:" + client;
  if (!limiter_.Allowed(user_key, now) || !limiter_.Allowed(addr_key, now)) {
    log::KvLine line("threadmill-web: ");
    line.Add("action", "login").Add("user", user).Add("client", client).Add("result", "limited");
    log::Get().warn("{}", line.str());
    frame.flash = "Too many login attempts. Wait a minute and try again.";
    return Page(res, "login.mustache", view, frame, nullptr, 429);
  }
  auto accounts = accounts_.Get();
  const Account* account = ValidUserName(user) ? accounts->Find(user) : nullptr;
  // Unknown users cost a hash check too, so timing does not tell which names exist.
  static const std::string dummy = [] {
    auto hash = HashPassword("not a password");
    return hash.ok() ? *hash : std::string();
  }();
  bool ok = VerifyPassword(account ? account->hash : dummy, password) && account;
  log::KvLine line("threadmill-web: ");
  line.Add("action", "login")
      .Add("user", user)
      .Add("client", client)
      .Add("result", ok ? "ok" : "failed");
  log::Get().info("{}", line.str());
  if (!ok) {
    limiter_.Failed(user_key, now);
    limiter_.Failed(addr_key, now);
    frame.flash = "Wrong user name or password";
    return Page(res, "login.mustache", view, frame, nullptr, 200);
  }
  Session session = sessions_.Create(account->user, now);
  bool secure = SecureRequest(req);
  res.set_header("Set-Cookie",
                 Cookie(kSessionCookie, session.id, sessions_.lifetime(), "/", secure));
  res.set_header("Set-Cookie", Cookie(kLoginCookie, "", 0, "/login", secure));
  Redirect(res, "/drafts");
}

void Console::PostLogout(const httplib::Request& req, httplib::Response& res) {
  auto who = AuthenticatePost(req, res);
  if (!who) return;
  sessions_.Remove(who->session.id);
  res.set_header("Set-Cookie", Cookie(kSessionCookie, "", 0, "/", SecureRequest(req)));
  Redirect(res, "/login");
}

void Console::PostDraftAction(const httplib::Request& req, httplib::Response& res,
                              const std::string& action) {
  auto who = AuthenticatePost(req, res);
  if (!who) return;
  const std::string id = req.matches[1];
  if (!who->account.CanAct()) {
    LogAction(*who, action, "draft", id, "forbidden");
    return Error(res, 403, "Your account may read drafts but not " + action + " them.", &*who);
  }
  std::lock_guard lock(actions_mutex_);
  auto current = actions_.drafts().Get(id);
  if (!current.ok()) return Error(res, 500, current.error().message, &*who);
  if (!current->has_value()) return Error(res, 404, "No draft " + id + ".", &*who);
  if (!who->account.SeesHandler((*current)->handler)) {
    LogAction(*who, action, "draft", id, "forbidden");
    return Error(res, 403, "Your account is not for handler " + (*current)->handler + ".", &*who);
  }
  std::string note = Note(req);
  std::string flash;
  if (action == "edit") {
    // Browsers send a textarea with CR LF line ends; drafts (and threadmillctl) use LF.
    std::string text = req.get_param_value("text");
    std::string lf;
    lf.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
      lf += text[i];
    }
    if (lf == (*current)->content.text) {
      sessions_.SetFlash(who->session.id, "Unchanged");
      return Redirect(res, "/drafts/" + id);
    }
    auto d = actions_.EditDraft(id, lf, who->by(), note);
    if (d.ok()) {
      LogAction(*who, action, "draft", id, "saved");
      flash = "Saved";
    } else {
      LogAction(*who, action, "draft", id, "error", "error", d.error().message);
      flash = "Error: " + d.error().message;
    }
  } else if (action == "approve") {
    auto d = actions_.ApproveDraft(id, who->by(), note);
    if (d.ok()) {
      std::string reply = "<" + d->reply_id + ">";
      LogAction(*who, action, "draft", id, "sent", "reply", reply);
      flash = "Sent as " + reply;
    } else {
      LogAction(*who, action, "draft", id, "refused", "reason", d.error().message);
      flash = "Refused: " + d.error().message;
    }
  } else {
    auto d = actions_.RejectDraft(id, who->by(), note);
    if (d.ok()) {
      LogAction(*who, action, "draft", id, "rejected");
      flash = "Rejected";
    } else {
      LogAction(*who, action, "draft", id, "error", "error", d.error().message);
      flash = "Error: " + d.error().message;
    }
  }
  sessions_.SetFlash(who->session.id, DisplayText(flash));
  Redirect(res, "/drafts/" + id);
}

void Console::PostJobAction(const httplib::Request& req, httplib::Response& res,
                            const std::string& action) {
  auto who = AuthenticatePost(req, res);
  if (!who) return;
  const std::string id = req.matches[1];
  if (!who->account.CanAct()) {
    LogAction(*who, action, "job", id, "forbidden");
    return Error(res, 403, "Your account may read jobs but not " + action + " them.", &*who);
  }
  std::lock_guard lock(actions_mutex_);
  auto job = actions_.queue().Get(id);
  if (!job.ok()) return Error(res, 500, job.error().message, &*who);
  if (!job->has_value()) return Error(res, 404, "No job " + id + ".", &*who);
  if (!who->account.SeesHandler((*job)->handler)) {
    LogAction(*who, action, "job", id, "forbidden");
    return Error(res, 403, "Your account is not for handler " + (*job)->handler + ".", &*who);
  }
  auto done = action == "retry" ? actions_.RetryJob(id)
                                : actions_.ParkJob(id, "parked by web:" + who->account.user);
  std::string flash;
  if (done.ok()) {
    // What the action did. Not the state read back after it: a retried job may already be
    // running again, or parked again, on this or another host (a shared queue) by then.
    LogAction(*who, action, "job", id, action == "retry" ? "queued" : "parked");
    flash = "Job " + id + (action == "retry" ? " queued again" : " parked");
  } else {
    LogAction(*who, action, "job", id, "error", "error", done.error().message);
    flash = "Error: " + done.error().message;
  }
  sessions_.SetFlash(who->session.id, DisplayText(flash));
  // Back to the list the form was on: only "/jobs" or "/jobs?state=<a job state>".
  std::string back = req.get_param_value("back");
  runtime::JobState ignored;
  bool known =
      back.rfind("/jobs?state=", 0) == 0 && runtime::ParseJobState(back.substr(12), &ignored);
  Redirect(res, known ? back : "/jobs");
}

}  // namespace threadmill::web
