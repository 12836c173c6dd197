// fuzz_offline_auth.h - the auth objects the DKIM and DMARC fuzz targets share: one Resolver
// that never leaves the machine (it forwards to a closed loopback port with a 1 ms time-out;
// the targets also pass deadlines already past or hand their records in), and one
// DkimLibrary on it. Process-wide, built on first use, as in the milter.
#pragma once

#include <chrono>
#include <memory>

#include "auth/dkim.h"
#include "auth/resolver.h"
#include "fuzz_check.h"

inline threadmill::auth::Resolver* OfflineResolver() {
  static std::unique_ptr<threadmill::auth::Resolver> resolver = [] {
    threadmill::auth::ResolverOptions o;
    o.forwarders = {"127.0.0.1@9"};
    o.use_resolv_conf = false;
    o.timeout = std::chrono::milliseconds(1);
    auto r = threadmill::auth::Resolver::Create(o);
    FUZZ_CHECK(r.ok());
    return std::move(r).value();
  }();
  return resolver.get();
}

inline threadmill::auth::DkimLibrary* OfflineDkimLibrary() {
  static std::unique_ptr<threadmill::auth::DkimLibrary> lib = [] {
    auto l = threadmill::auth::DkimLibrary::Create(*OfflineResolver());
    FUZZ_CHECK(l.ok());
    return std::move(l).value();
  }();
  return lib.get();
}
