// dns_fixture.h - test rig for threadmill::auth: a real DNS server (dnsmasq) on 127.0.0.1,
// DKIM keys made with opendkim-genkey, messages signed with libopendkim, and a PSL copy
// with the test TLDs appended. Temporary files go to $TMPDIR (default /tmp) and are
// removed at exit.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/resolver.h"

namespace threadmill::auth::testing {

// One dnsmasq process serving `lines` (dnsmasq.conf syntax) on a free port. Start()
// returns once that dnsmasq answers a DNS query (not merely once the port is taken: a
// free port can be taken by another process before dnsmasq binds it).
class DnsServer {
 public:
  static std::unique_ptr<DnsServer> Start(const std::vector<std::string>& lines);
  ~DnsServer();
  void Stop();  // kill by PID and wait
  // SIGSTOP / SIGCONT by PID: a server that stops answering and later answers again.
  void Freeze();
  void Thaw();
  int port() const { return port_; }
  std::string forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

 private:
  int pid_ = -1;
  int port_ = 0;
  std::string conf_;
};

// "txt-record=NAME,"chunk","chunk"" with chunks of at most 255 bytes.
std::string TxtLine(const std::string& name, const std::string& value);

struct TestKey {
  std::string domain, selector;
  std::string private_pem;
  std::string record;    // the TXT record opendkim-genkey wrote ("v=DKIM1; h=sha256; ...")
  std::string identity;  // i= of signatures made with it; empty: none (i= is then @domain)
};

struct Message {
  // Values as written after the colon. Without `raw` a value carries no leading space and
  // the field is "Name: value" (one space added); with `raw` it is "Name:value" exactly.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // CRLF
  bool raw = false;
  // The value as a milter with SMFIP_HDR_LEADSPC receives it.
  std::string Value(const std::string& v) const { return raw ? v : " " + v; }
};

// Signs `msg` (rsa-sha256, relaxed/relaxed; simple/simple with `simple`) and returns the
// DKIM-Signature field value (without leading space). The names in `oversign` are added to
// h= once more each (libopendkim's DKIM_OPTS_OVERSIGNHDRS, RFC 6376 section 5.4.2).
std::string Sign(const TestKey& key, const Message& msg, bool simple = false,
                 const std::vector<std::string>& oversign = {});
// Prepends a DKIM-Signature header made with `key`.
void SignInPlace(const TestKey& key, Message* msg, bool simple = false,
                 const std::vector<std::string>& oversign = {});

// The shared world of the test process: keys, PSL, and a DNS server with every zone.
class World {
 public:
  static World& Get();
  const TestKey& key1() const { return key1_; }  // sel1._domainkey.dkim.example
  const TestKey& key2() const { return key2_; }  // sel2._domainkey.other.example
  const std::string& psl_path() const { return psl_; }
  const std::string& dir() const { return dir_; }
  DnsServer& dns() { return *dns_; }
  ResolverOptions Options(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

 private:
  World();
  std::string dir_, psl_;
  TestKey key1_, key2_;
  std::unique_ptr<DnsServer> dns_;
};

// Zone lines shared by World and tests that start their own server.
std::vector<std::string> ZoneLines(const TestKey& k1, const TestKey& k2);

}  // namespace threadmill::auth::testing
