# Locates threadmill's Debian-packaged dependencies and exposes each as an imported target.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(spdlog REQUIRED)          # Debian's spdlog is compiled against external fmt
find_package(nlohmann_json REQUIRED)

pkg_check_modules(MILTER REQUIRED IMPORTED_TARGET milter)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
# libpq (PostgreSQL client, Debian libpq-dev): the PostgreSQL store backend (lib/store/postgresql).
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(OPENDKIM IMPORTED_TARGET opendkim)
pkg_check_modules(UNBOUND IMPORTED_TARGET libunbound)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # threadmill-web, /metrics
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)     # threadmill-web accounts
find_path(MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp)            # threadmill-web templates
if(NOT MUSTACHE_INCLUDE_DIR)
  message(FATAL_ERROR "kainjow/mustache.hpp not found (run scripts/install-deps)")
endif()

# Libraries without pkg-config files.
function(threadmill_find_plain name header lib)
  find_path(${name}_INCLUDE_DIR ${header})
  find_library(${name}_LIBRARY ${lib} PATHS /usr/lib)
  if(${name}_INCLUDE_DIR AND ${name}_LIBRARY)
    add_library(threadmill_dep_${name} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(threadmill_dep_${name} PROPERTIES
      IMPORTED_LOCATION ${${name}_LIBRARY}
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${${name}_INCLUDE_DIR})
    add_library(dep::${name} ALIAS threadmill_dep_${name})
  else()
    message(FATAL_ERROR "${name} not found (run scripts/install-deps)")
  endif()
endfunction()

threadmill_find_plain(mimetic mimetic/mimetic.h mimetic)
threadmill_find_plain(opendmarc opendmarc/dmarc.h opendmarc)
threadmill_find_plain(spf2 spf2/spf.h spf2)
