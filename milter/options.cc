#include "milter/options.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace threadmill::milter {
namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: threadmill [-c FILE] [-n] [-d] [-p PIDFILE]\n"
               "  -c FILE     configuration file (default /etc/threadmill/threadmill.conf)\n"
               "  -n          check the configuration and exit\n"
               "  -d          daemonize (default: run in the foreground)\n"
               "  -p PIDFILE  write the process id to PIDFILE\n"
               "  -V          print the version and exit\n"
               "signals: TERM stops, USR1 re-reads the configuration\n");
}

}  // namespace

std::optional<Options> ParseOptions(int argc, char** argv, int* exit_code) {
  Options options;
  // The one long option, internal: taken out before getopt sees the rest.
  std::vector<char*> args(argv, argv + argc);
  for (auto it = args.begin() + (argc > 0 ? 1 : 0); it != args.end(); ++it) {
    if (std::strcmp(*it, "--check-handlers") == 0) {
      options.check_handlers = true;
      args.erase(it);
      break;
    }
  }
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  int c;
  opterr = 0;
  while ((c = getopt(argc, argv, "c:ndp:hVS:")) != -1) {
    switch (c) {
      case 'c':
        options.config_path = optarg;
        break;
      case 'n':
        options.check_only = true;
        break;
      case 'd':
        options.daemonize = true;
        break;
      case 'p':
        options.pid_file = optarg;
        break;
      case 'S':
        options.supervisor_fd = std::atoi(optarg);
        if (options.supervisor_fd < 3) {
          std::fprintf(stderr, "threadmill: -S needs a descriptor number >= 3\n");
          *exit_code = 2;
          return std::nullopt;
        }
        break;
      case 'V':
        std::printf("threadmill %s\n", THREADMILL_VERSION);
        *exit_code = 0;
        return std::nullopt;
      case 'h':
        Usage(stdout);
        *exit_code = 0;
        return std::nullopt;
      default:
        std::fprintf(stderr, "threadmill: unknown option -%c\n", optopt);
        Usage(stderr);
        *exit_code = 2;
        return std::nullopt;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "threadmill: unexpected argument \"%s\"\n", argv[optind]);
    Usage(stderr);
    *exit_code = 2;
    return std::nullopt;
  }
  return options;
}

}  // namespace threadmill::milter
