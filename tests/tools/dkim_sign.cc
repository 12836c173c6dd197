// dkim-sign - sign one message with libopendkim (RFC 6376; rsa-sha256, or ed25519-sha256 of
// RFC 8463; relaxed/relaxed unless -c says otherwise).
//
//   dkim-sign -d DOMAIN -s SELECTOR -k KEYFILE [-i IDENTITY] [-c simple|relaxed]
//             [-a rsa-sha256|ed25519-sha256] < in > out
//
// An ed25519 KEYFILE is a PEM private key (openssl genpkey -algorithm ed25519).
//
// Reads a whole message on stdin (LF or CRLF line ends), writes it to stdout with CRLF line ends
// and a DKIM-Signature header in front. Run it twice for two signatures. Used by the end-to-end
// authentication tests and the benchmark: opendkim-testmsg cannot sign on Debian 12 (rsa-sha1
// only, and dkim_chunk() errors), see PLATFORM_NOTES.md.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#define _Bool bool
extern "C" {
#include <opendkim/dkim.h>
}
#undef _Bool

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: dkim-sign -d DOMAIN -s SELECTOR -k KEYFILE [-i IDENTITY] "
               "[-c relaxed|simple] [-a rsa-sha256|ed25519-sha256] < message > signed\n");
  return 2;
}

// LF or CRLF (or a mix) -> CRLF.
std::string ToCrlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40);
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* U(const char* s) { return reinterpret_cast<const unsigned char*>(s); }

}  // namespace

int main(int argc, char** argv) {
  std::string domain, selector, keyfile, identity;
  dkim_canon_t canon = DKIM_CANON_RELAXED;
  dkim_alg_t alg = DKIM_SIGN_RSASHA256;
  int opt;
  while ((opt = getopt(argc, argv, "d:s:k:i:c:a:")) != -1) {
    switch (opt) {
      case 'd':
        domain = optarg;
        break;
      case 's':
        selector = optarg;
        break;
      case 'k':
        keyfile = optarg;
        break;
      case 'i':
        identity = optarg;
        break;
      case 'c':
        if (std::strcmp(optarg, "simple") == 0) {
          canon = DKIM_CANON_SIMPLE;
        } else if (std::strcmp(optarg, "relaxed") != 0) {
          return Usage();
        }
        break;
      case 'a':
        if (std::strcmp(optarg, "ed25519-sha256") == 0) {
          alg = DKIM_SIGN_ED25519SHA256;
        } else if (std::strcmp(optarg, "rsa-sha256") != 0) {
          return Usage();
        }
        break;
      default:
        return Usage();
    }
  }
  if (domain.empty() || selector.empty() || keyfile.empty() || optind != argc) return Usage();

  std::ifstream kin(keyfile);
  if (!kin) {
    std::fprintf(stderr, "dkim-sign: cannot read %s\n", keyfile.c_str());
    return 1;
  }
  std::string key((std::istreambuf_iterator<char>(kin)), std::istreambuf_iterator<char>());

  std::string msg = ToCrlf(
      std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>()));
  size_t split = msg.find("\r\n\r\n");
  std::string head, body;
  if (msg.rfind("\r\n", 0) == 0) {  // no headers at all
    body = msg.substr(2);
  } else if (split == std::string::npos) {
    head = msg;
  } else {
    head = msg.substr(0, split + 2);
    body = msg.substr(split + 4);
  }
  // Header fields, unfolded lines kept together (a continuation starts with SP or TAB).
  std::vector<std::string> fields;
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    std::string line = head.substr(pos, eol - pos);
    if (!fields.empty() && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      fields.back() += "\r\n" + line;
    } else if (!line.empty()) {
      fields.push_back(line);
    }
    pos = eol + 2;
  }

  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (lib == nullptr) {
    std::fprintf(stderr, "dkim-sign: dkim_init failed\n");
    return 1;
  }
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* d = dkim_sign(lib, U("dkim-sign"), nullptr, U(key), U(selector.c_str()), U(domain.c_str()),
                      canon, canon, alg, -1, &st);
  if (d == nullptr) {
    std::fprintf(stderr, "dkim-sign: dkim_sign: %s\n", dkim_getresultstr(st));
    dkim_close(lib);
    return 1;
  }
  if (!identity.empty() && dkim_set_signer(d, U(identity.c_str())) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-sign: bad identity %s\n", identity.c_str());
    return 1;
  }
  for (auto& f : fields) {
    if ((st = dkim_header(d, U(f), f.size())) != DKIM_STAT_OK) {
      std::fprintf(stderr, "dkim-sign: dkim_header: %s\n", dkim_getresultstr(st));
      return 1;
    }
  }
  if ((st = dkim_eoh(d)) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-sign: dkim_eoh: %s (%s)\n", dkim_getresultstr(st), dkim_geterror(d));
    return 1;
  }
  if (!body.empty() && (st = dkim_body(d, U(body), body.size())) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-sign: dkim_body: %s\n", dkim_getresultstr(st));
    return 1;
  }
  if ((st = dkim_eom(d, nullptr)) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-sign: dkim_eom: %s (%s)\n", dkim_getresultstr(st), dkim_geterror(d));
    return 1;
  }
  unsigned char* sig = nullptr;
  size_t siglen = 0;
  const size_t prefix = std::strlen("DKIM-Signature: ");
  if ((st = dkim_getsighdr_d(d, prefix, &sig, &siglen)) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-sign: dkim_getsighdr_d: %s\n", dkim_getresultstr(st));
    return 1;
  }
  std::string out =
      ToCrlf("DKIM-Signature: " + std::string(reinterpret_cast<char*>(sig), siglen)) + "\r\n" + msg;
  dkim_free(d);
  dkim_close(lib);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
