// dns_fixture.cc - see dns_fixture.h.
#include "dns_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#define _Bool bool
extern "C" {
#include <opendkim/dkim.h>
}
#undef _Bool

namespace threadmill::auth::testing {
namespace {

// Sends a TXT query for `name` to 127.0.0.1:port and waits for the answer until
// `deadline`; true when a positive answer with the query's id came back (from that port).
bool Answers(int port, const std::string& name, std::chrono::steady_clock::time_point deadline) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return false;
  }
  std::string q = {'\x7a', '\x5c', 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};  // id, RD, one question
  size_t start = 0;
  for (size_t dot; (dot = name.find('.', start)) != std::string::npos || start < name.size();) {
    if (dot == std::string::npos) dot = name.size();
    q += static_cast<char>(dot - start);
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q += std::string("\0\0\x10\0\x01", 5);  // root, TXT, IN
  bool ok = false;
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    if (send(fd, q.data(), q.size(), 0) < 0) break;  // ECONNREFUSED: nobody listens yet
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) == 1) {
      char buf[512];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      // Our id, NOERROR and an answer: another server would not know the name.
      ok = n >= 12 && buf[0] == q[0] && buf[1] == q[1] && (buf[3] & 0x0f) == 0 &&
           (buf[6] != 0 || buf[7] != 0);
    }
  }
  close(fd);
  return ok;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// $TMPDIR, or /tmp.
std::string TempDir() {
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TestKey GenKey(const std::string& dir, const std::string& domain, const std::string& selector) {
  std::string cmd = "opendkim-genkey -b 2048 -d " + domain + " -s " + selector + " -D " + dir;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("opendkim-genkey failed");
  TestKey k{domain, selector, ReadFile(dir + "/" + selector + ".private"), "", ""};
  // The .txt file holds the record as quoted chunks: concatenate them.
  std::string txt = ReadFile(dir + "/" + selector + ".txt");
  bool in = false;
  for (char c : txt.substr(0, txt.find(';', txt.find(')')))) {
    if (c == '"')
      in = !in;
    else if (in)
      k.record += c;
  }
  return k;
}

}  // namespace

std::string TxtLine(const std::string& name, const std::string& value) {
  std::string line = "txt-record=" + name;
  for (size_t i = 0; i < value.size() || i == 0; i += 255)
    line += ",\"" + value.substr(i, 255) + "\"";
  return line;
}

std::unique_ptr<DnsServer> DnsServer::Start(const std::vector<std::string>& lines) {
  auto s = std::unique_ptr<DnsServer>(new DnsServer());
  std::string tmpl = TempDir() + "/threadmill-dnsmasq-XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("mkstemp " + tmpl + " failed");
  close(fd);
  s->conf_ = tmpl;
  // The probe name is answered by this dnsmasq only (its own configuration file name).
  std::string probe = "ready-" + tmpl.substr(tmpl.rfind('-') + 1) + ".fixture.test";
  for (char& c : probe) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int attempt = 0; attempt < 10; ++attempt) {
    s->port_ = FreePort();
    std::ofstream conf(s->conf_);
    conf << "port=" << s->port_ << "\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\n"
         << "no-hosts\npid-file=\nlocal-ttl=300\nlocal=/example/\nlocal=/test/\n"
         << TxtLine(probe, "ready") << "\n";
    for (const auto& l : lines) conf << l << "\n";
    conf.close();
    pid_t pid = fork();
    if (pid == 0) {
      execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground",
            ("--conf-file=" + s->conf_).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    s->pid_ = pid;
    // Ready when it answers (a busy machine may take seconds to start it); if it died
    // (the port was taken meanwhile), try another port.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        s->pid_ = -1;
        break;
      }
      if (Answers(s->port_, probe,
                  std::min(deadline,
                           std::chrono::steady_clock::now() + std::chrono::milliseconds(500))))
        return s;
    }
    s->Stop();
  }
  throw std::runtime_error("dnsmasq did not start");
}

DnsServer::~DnsServer() {
  Stop();
  if (!conf_.empty()) unlink(conf_.c_str());
}

void DnsServer::Freeze() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void DnsServer::Thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void DnsServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // a frozen server would never see the SIGTERM
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string Sign(const TestKey& key, const Message& msg, bool simple,
                 const std::vector<std::string>& oversign) {
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (!oversign.empty()) {
    std::vector<const char*> names;
    for (const std::string& n : oversign) names.push_back(n.c_str());
    names.push_back(nullptr);
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, names.data(), sizeof(char**)) !=
        DKIM_STAT_OK)
      throw std::runtime_error("DKIM_OPTS_OVERSIGNHDRS failed");
  }
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* d =
      dkim_sign(lib, reinterpret_cast<const unsigned char*>("test"), nullptr,
                reinterpret_cast<unsigned char*>(const_cast<char*>(key.private_pem.c_str())),
                reinterpret_cast<const unsigned char*>(key.selector.c_str()),
                reinterpret_cast<const unsigned char*>(key.domain.c_str()),
                simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED,
                simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
  if (d == nullptr) throw std::runtime_error("dkim_sign failed");
  if (!key.identity.empty() && dkim_set_signer(d, reinterpret_cast<const unsigned char*>(
                                                      key.identity.c_str())) != DKIM_STAT_OK)
    throw std::runtime_error("dkim_set_signer failed");
  for (const auto& [name, value] : msg.headers) {
    std::string h = name + ":" + msg.Value(value);
    dkim_header(d, reinterpret_cast<unsigned char*>(h.data()), h.size());
  }
  dkim_eoh(d);
  std::string body = msg.body;
  dkim_body(d, reinterpret_cast<unsigned char*>(body.data()), body.size());
  dkim_eom(d, nullptr);
  unsigned char* buf = nullptr;
  size_t len = 0;
  st = dkim_getsighdr_d(d, sizeof("DKIM-Signature: ") - 1, &buf, &len);
  if (st != DKIM_STAT_OK) throw std::runtime_error("dkim_getsighdr_d failed");
  std::string out(reinterpret_cast<char*>(buf), len);
  dkim_free(d);
  dkim_close(lib);
  return out;
}

void SignInPlace(const TestKey& key, Message* msg, bool simple,
                 const std::vector<std::string>& oversign) {
  std::string sig = Sign(key, *msg, simple, oversign);
  msg->headers.insert(msg->headers.begin(), {"DKIM-Signature", msg->raw ? " " + sig : sig});
}

std::vector<std::string> ZoneLines(const TestKey& k1, const TestKey& k2) {
  std::vector<std::string> z = {
      // SPF (RFC 7208)
      TxtLine("pass.spf.example", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"),
      TxtLine("softfail.spf.example", "v=spf1 ip4:192.0.2.0/24 ~all"),
      TxtLine("neutral.spf.example", "v=spf1 ?all"),
      TxtLine("include.spf.example", "v=spf1 include:pass.spf.example -all"),
      TxtLine("redirect.spf.example", "v=spf1 redirect=pass.spf.example"),
      TxtLine("amx.spf.example", "v=spf1 a mx -all"),
      "host-record=amx.spf.example,203.0.113.5",
      "mx-host=amx.spf.example,mx.amx.spf.example,10",
      "host-record=mx.amx.spf.example,203.0.113.6",
      TxtLine("syntax.spf.example", "v=spf1 ip4:192.0.2.0/24 frob:x -all"),
      TxtLine("multi.spf.example", "v=spf1 -all"),
      TxtLine("multi.spf.example", "v=spf1 +all"),
      TxtLine("nospf.spf.example", "hello world"),
      TxtLine("helo.spf.example", "v=spf1 ip4:192.0.2.10 -all"),
      TxtLine("v6.spf.example", "v=spf1 ip6:2001:db8:1::/48 -all"),
      TxtLine("split.spf.example", "v=spf1 ip4:192.0.2.0/24 " + std::string(240, ' ') + "-all"),
      TxtLine("pass.spf.test", "v=spf1 ip4:192.0.2.0/24 -all"),
      // DKIM (RFC 6376)
      TxtLine("sel1._domainkey.dkim.example", k1.record),
      TxtLine("sel2._domainkey.other.example", k2.record),
      TxtLine("revoked._domainkey.dkim.example", "v=DKIM1; k=rsa; p="),
      TxtLine("strict._domainkey.dkim.example",
              "v=DKIM1; k=rsa; t=s; p=" + k1.record.substr(k1.record.find("p=") + 2)),
      TxtLine("dkim.example", "v=spf1 ip4:192.0.2.0/24 -all"),
      TxtLine("_dmarc.dkim.example", "v=DMARC1; p=reject"),
      TxtLine("other.example", "v=spf1 ip4:198.51.100.0/24 -all"),
      // DMARC (RFC 7489)
      TxtLine("_dmarc.reject.example", "v=DMARC1; p=reject"),
      TxtLine("_dmarc.quarantine.example", "v=DMARC1; p=quarantine"),
      TxtLine("_dmarc.none.example", "v=DMARC1; p=none"),
      TxtLine("_dmarc.pct.example", "v=DMARC1; p=reject; pct=20"),
      TxtLine("_dmarc.org.example", "v=DMARC1; p=reject; sp=quarantine"),
      TxtLine("_dmarc.nosp.example", "v=DMARC1; p=reject"),
      TxtLine("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s"),
      TxtLine("_dmarc.bad.example", "v=DMARC1; p=bogus"),
      TxtLine("_dmarc.twice.example", "v=DMARC1; p=reject"),
      TxtLine("_dmarc.twice.example", "v=DMARC1; p=none"),
      TxtLine("_dmarc.trap.test", "v=DMARC1; p=reject"),
      TxtLine("_dmarc.multi.example", "v=DMARC1; p=reject"),
      TxtLine("_dmarc.sub.multi.example", "v=DMARC1; p=none"),
      TxtLine("_dmarc.sub.multi.example", "v=DMARC1; p=quarantine"),
      TxtLine("_dmarc.lower.example", "v=dmarc1; p=reject"),
      TxtLine("_dmarc.spaces.example", "v = DMARC1 ; p=reject"),
      TxtLine("_dmarc.junkv.example", "v=DMARC1x; p=reject"),
      // SPF limits libspf2 does not keep (RFC 7208 sections 4.6.4, 6)
      TxtLine("voids3.spf.example",
              "v=spf1 a:nx1.spf.example a:nx2.spf.example a:nx3.spf.example "
              "ip4:192.0.2.0/24 -all"),
      TxtLine("voids2.spf.example",
              "v=spf1 a:nx1.spf.example a:nx2.spf.example ip4:192.0.2.0/24 -all"),
      TxtLine("redirect2.spf.example",
              "v=spf1 redirect=pass.spf.example redirect=pass.spf.example"),
      "host-record=hit.spf.example,192.0.2.10",
  };
  for (int i = 1; i <= 11; ++i)
    z.push_back(TxtLine("l" + std::to_string(i) + ".spf.example", "v=spf1 -all"));
  std::string many = "v=spf1";
  for (int i = 1; i <= 11; ++i) many += " include:l" + std::to_string(i) + ".spf.example";
  z.push_back(TxtLine("toomany.spf.example", many + " -all"));
  // Ten includes that do not match, then an 11th term that would: permerror, not pass.
  std::string ten = "v=spf1";
  for (int i = 1; i <= 10; ++i) ten += " include:l" + std::to_string(i) + ".spf.example";
  z.push_back(TxtLine("eleventh.spf.example", ten + " a:hit.spf.example -all"));
  z.push_back(TxtLine("tenth.spf.example",
                      "v=spf1 include:l1.spf.example include:l2.spf.example "
                      "include:l3.spf.example include:l4.spf.example include:l5.spf.example "
                      "include:l6.spf.example include:l7.spf.example include:l8.spf.example "
                      "include:l9.spf.example a:hit.spf.example -all"));
  return z;
}

World& World::Get() {
  // Lives until exit: the atexit handler below stops dnsmasq and removes the files.
  static World* world = new World();
  return *world;
}

World::World() {
  std::string tmpl = TempDir() + "/threadmill-auth-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + " failed");
  dir_ = tmpl;
  key1_ = GenKey(dir_, "dkim.example", "sel1");
  key2_ = GenKey(dir_, "other.example", "sel2");
  psl_ = dir_ + "/psl.dat";
  std::ofstream psl(psl_);
  psl << ReadFile("/usr/share/publicsuffix/effective_tld_names.dat") << "\nexample\ntest\n";
  psl.close();
  dns_ = DnsServer::Start(ZoneLines(key1_, key2_));
  std::atexit([] {
    World& w = World::Get();
    w.dns_.reset();  // stops dnsmasq and deletes its configuration file
    std::system(("rm -rf " + w.dir_).c_str());
  });
}

ResolverOptions World::Options(std::chrono::milliseconds timeout) {
  ResolverOptions o;
  o.forwarders = {dns_->forwarder()};
  o.timeout = timeout;
  o.use_resolv_conf = false;
  o.unbound_options = {{"local-zone:", "test. transparent"}};
  return o;
}

}  // namespace threadmill::auth::testing
