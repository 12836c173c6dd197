// main.cc - threadmill-web: the approval console (see console.h and threadmill-web(8)).
//
//   threadmill-web [-c CONFIG] [--listen ADDR]      serve ([web] listen unless --listen)
//   threadmill-web [-c CONFIG] passwd USER --role viewer|approver|admin [--handlers a,b]
//   threadmill-web --version
//
// Serving: binds first, then opens the store the way threadmillctl does (as root it drops to
// the [milter] user; under systemd the unit runs it as that user), prints "listening ADDR"
// (the real port when 0 was asked) and serves until SIGTERM/SIGINT.
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "admin/store_access.h"
#include "common/privileges.h"
#include "config/config.h"
#include "log/logger.h"
#include "web/accounts.h"
#include "web/console.h"
#include "web/listen_address.h"

namespace threadmill::web {
namespace {

constexpr const char* kUsage =
    "usage: threadmill-web [-c CONFIG] [--listen unix:/PATH|HOST:PORT]\n"
    "       threadmill-web [-c CONFIG] passwd USER --role viewer|approver|admin "
    "[--handlers A,B]\n"
    "       threadmill-web --version\n";

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "threadmill-web: %s\n", message.c_str());
  return code;
}

// One line from stdin; with a terminal, asks twice without echo.
bool ReadPassword(std::string* out) {
  if (!isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, *out)) return false;
    if (!out->empty() && out->back() == '\r') out->pop_back();
    return true;
  }
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string again;
  std::fprintf(stderr, "Password: ");
  bool ok = static_cast<bool>(std::getline(std::cin, *out));
  std::fprintf(stderr, "\nAgain: ");
  ok = ok && std::getline(std::cin, again);
  std::fprintf(stderr, "\n");
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (ok && *out != again) {
    std::fprintf(stderr, "threadmill-web: the passwords differ\n");
    return false;
  }
  return ok;
}

int Passwd(const config::Config& config, const std::vector<std::string>& words) {
  Account account;
  bool role_given = false;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if ((w == "--role" || w == "--handlers") && i + 1 < words.size()) {
      const std::string& value = words[++i];
      if (w == "--role") {
        if (!ParseRole(value, &account.role)) return Fail("--role is viewer, approver or admin", 2);
        role_given = true;
      } else {
        size_t start = 0;
        while (start <= value.size()) {
          size_t comma = value.find(',', start);
          if (comma == std::string::npos) comma = value.size();
          if (comma > start) account.handlers.push_back(value.substr(start, comma - start));
          start = comma + 1;
        }
      }
    } else if (account.user.empty() && !w.starts_with("-")) {
      account.user = w;
    } else {
      return Fail(std::string("passwd: unexpected \"") + w + "\"\n" + kUsage, 2);
    }
  }
  if (!ValidUserName(account.user)) return Fail("passwd needs a USER of [A-Za-z0-9._@-]", 2);
  if (!role_given) return Fail("passwd needs --role viewer|approver|admin", 2);
  for (const auto& h : account.handlers) {
    if (h.find(':') != std::string::npos) return Fail("bad handler name " + h, 2);
  }
  std::string password;
  if (!ReadPassword(&password) || password.empty()) return Fail("no password given");
  auto hash = HashPassword(password);
  if (!hash.ok()) return Fail(hash.error().message);
  account.hash = *hash;
  const std::string& path = config.web.users_file;
  auto accounts = Accounts::Load(path);
  if (!accounts.ok()) return Fail(accounts.error().message);
  accounts->Set(account);
  if (Status st = accounts->Save(path); !st.ok()) return Fail(st.error().message);
  // Readable by the service user the console runs as (root:GROUP 0640) when run as root.
  if (geteuid() == 0) {
    auto plan = PlanPrivilegeDrop({config.milter.user, config.milter.group}, 0);
    if (plan.ok() && plan->action == PrivilegePlan::Action::kDrop &&
        chown(path.c_str(), 0, plan->gid) != 0) {
      return Fail("cannot give " + path + " to the service group");
    }
  }
  std::fprintf(stderr, "threadmill-web: account %s (%s) written to %s\n", account.user.c_str(),
               ToString(account.role), path.c_str());
  return 0;
}

int Serve(const config::Config& config, std::shared_ptr<const config::Config> shared,
          const std::string& listen) {
  ListenAddress address;
  if (!ParseListenAddress(listen, &address)) {
    return Fail("listen address \"" + listen + "\" is not unix:/PATH or HOST:PORT", 2);
  }
  if (!InitSodium()) return Fail("libsodium cannot start");
  // Stop signals are taken by one thread (sigwait), so they are blocked before threads start.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  log::Configure(config.log);  // as root, like the daemon: the mail log may be root's

  httplib::Server server;
  std::string shown;
  if (address.unix_socket) {
    struct stat st {};
    if (lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(address.path.c_str());
    server.set_address_family(AF_UNIX);
    if (!server.bind_to_port(address.path, 80)) return Fail("cannot bind " + listen);
    // Like a loopback port, any local user may connect; nothing is served without a login.
    chmod(address.path.c_str(), 0666);
    shown = "unix:" + address.path;
  } else {
    int port = address.port;
    if (port == 0) {
      port = server.bind_to_any_port(address.host);
      if (port <= 0) return Fail("cannot bind " + listen);
    } else if (!server.bind_to_port(address.host, port)) {
      return Fail("cannot bind " + listen);
    }
    bool v6 = address.host.find(':') != std::string::npos;
    shown = (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(port);
  }
  std::shared_ptr<store::Environment> env;
  try {
    env = admin::OpenEnvironment(config, /*write=*/true);
  } catch (const std::exception& e) {
    return Fail(e.what());
  }
  if (auto accounts = Accounts::Load(config.web.users_file); !accounts.ok()) {
    log::Get().warn("threadmill-web: accounts={} error=\"{}\"", config.web.users_file,
                    accounts.error().message);
  } else if (accounts->size() == 0) {
    log::Get().warn(
        "threadmill-web: no accounts in {}: add one with threadmill-web passwd USER "
        "--role viewer|approver|admin",
        config.web.users_file);
  }
  Console console(shared, env);
  console.Install(server);
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    server.stop();
  });
  log::Get().info("threadmill-web: listening={} users_file={}", shown, config.web.users_file);
  std::printf("listening %s\n", shown.c_str());
  std::fflush(stdout);
  bool ok = server.listen_after_bind();
  if (!ok && stopper.joinable()) {
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  stopper.join();
  if (address.unix_socket) unlink(address.path.c_str());
  log::Get().info("threadmill-web: stopped");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace threadmill::web

int main(int argc, char** argv) {
  using namespace threadmill;
  std::string config_path = "/etc/threadmill/threadmill.conf";
  std::string listen;
  static option long_options[] = {{"config", required_argument, nullptr, 'c'},
                                  {"listen", required_argument, nullptr, 'l'},
                                  {"version", no_argument, nullptr, 'V'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+c:h", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        config_path = optarg;
        break;
      case 'l':
        listen = optarg;
        break;
      case 'V':
        std::printf("threadmill-web %s\n", THREADMILL_VERSION);
        return 0;
      case 'h':
        std::fputs(web::kUsage, stdout);
        return 0;
      default:
        std::fputs(web::kUsage, stderr);
        return 2;
    }
  }
  std::vector<std::string> words(argv + optind, argv + argc);
  std::shared_ptr<const config::Config> config;
  try {
    config = config::Load(config_path);
  } catch (const std::exception& e) {
    return web::Fail(std::string("configuration error: ") + e.what());
  }
  if (!words.empty() && words[0] == "passwd") return web::Passwd(*config, words);
  if (!words.empty()) return web::Fail("unknown command \"" + words[0] + "\"\n" + web::kUsage, 2);
  return web::Serve(*config, config, listen.empty() ? config->web.listen : listen);
}
