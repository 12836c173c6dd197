// dns_fixture.cc - see dns_fixture.h.
#include "dns_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#define _Bool bool
extern "C" {
#include <opendkim/dkim.h>
}
#undef _Bool

namespace threadmill::auth::testing {
namespace {

bool UdpPortBusy(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool busy = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  close(fd);
  return busy;
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
  TestKey k{domain, selector, ReadFile(dir + "/" + selector + ".private"), ""};
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
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreePort();
    std::ofstream conf(s->conf_);
    conf << "port=" << s->port_ << "\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\n"
         << "no-hosts\npid-file=\nlocal-ttl=300\nlocal=/example/\nlocal=/test/\n";
    for (const auto& l : lines) conf << l << "\n";
    conf.close();
    pid_t pid = fork();
    if (pid == 0) {
      execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground",
            ("--conf-file=" + s->conf_).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    s->pid_ = pid;
    for (int i = 0; i < 200; ++i) {
      if (UdpPortBusy(s->port_)) return s;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        s->pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    s->Stop();
  }
  throw std::runtime_error("dnsmasq did not start");
}

DnsServer::~DnsServer() {
  Stop();
  if (!conf_.empty()) unlink(conf_.c_str());
}

void DnsServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string Sign(const TestKey& key, const Message& msg) {
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* d = dkim_sign(lib, reinterpret_cast<const unsigned char*>("test"), nullptr,
                      reinterpret_cast<unsigned char*>(const_cast<char*>(key.private_pem.c_str())),
                      reinterpret_cast<const unsigned char*>(key.selector.c_str()),
                      reinterpret_cast<const unsigned char*>(key.domain.c_str()),
                      DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
  if (d == nullptr) throw std::runtime_error("dkim_sign failed");
  for (const auto& [name, value] : msg.headers) {
    std::string h = name + ": " + value;
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

void SignInPlace(const TestKey& key, Message* msg) {
  std::string sig = Sign(key, *msg);
  msg->headers.insert(msg->headers.begin(), {"DKIM-Signature", sig});
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
  };
  for (int i = 1; i <= 11; ++i)
    z.push_back(TxtLine("l" + std::to_string(i) + ".spf.example", "v=spf1 -all"));
  std::string many = "v=spf1";
  for (int i = 1; i <= 11; ++i) many += " include:l" + std::to_string(i) + ".spf.example";
  z.push_back(TxtLine("toomany.spf.example", many + " -all"));
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
