// accounts.h - threadmill-web's accounts file: users, roles, handler restrictions, argon2id.
//
// DESCRIPTION
//   One account per line: USER:ROLE:HANDLERS:HASH. USER is 1-64 of [A-Za-z0-9._@-]; ROLE is
//   viewer, approver or admin; HANDLERS is a comma-separated list of the handlers the account
//   may see and act on ("" = all); HASH is libsodium's crypto_pwhash_str (argon2id, with its
//   own salt and cost parameters: "$argon2id$v=19$m=...,t=...,p=...$salt$hash"). Lines
//   starting with '#' and blank lines are ignored. Written by `threadmill-web passwd`
//   atomically (temporary file, fsync, rename), mode 0640.
//
//   Roles: a viewer reads every page; an approver also edits, approves and rejects drafts and
//   retries and parks jobs; an admin is an approver whom no handler list restricts.
//
// LIMITS
//   Hashing uses crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (64 MiB, ~0.1 s):
//   a login costs that much CPU, so logins are rate-limited (rate_limiter.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::web {

enum class Role { kViewer, kApprover, kAdmin };

const char* ToString(Role role);
bool ParseRole(std::string_view text, Role* out);

struct Account {
  std::string user;
  Role role = Role::kViewer;
  std::vector<std::string> handlers;  // empty: all
  std::string hash;

  // May this account act (edit/approve/reject/retry/park)?
  bool CanAct() const { return role != Role::kViewer; }
  // May it see and act on `handler`'s drafts, jobs and records?
  bool SeesHandler(std::string_view handler) const;
};

bool ValidUserName(std::string_view user);

// Calls sodium_init(); false when libsodium cannot start. Idempotent, thread-safe.
bool InitSodium();

// argon2id hash of `password` for the file. kInternal when out of memory.
Result<std::string> HashPassword(std::string_view password);
// Constant-time verification against a stored hash.
bool VerifyPassword(const std::string& hash, std::string_view password);

class Accounts {
 public:
  // Parses the file's text. kInvalidInput names the line.
  static Result<Accounts> Parse(std::string_view text);
  // Reads `path`; a missing file is an empty set of accounts.
  static Result<Accounts> Load(const std::string& path);
  // Writes the file atomically with mode 0640.
  Status Save(const std::string& path) const;

  std::string Serialize() const;
  const Account* Find(std::string_view user) const;
  void Set(Account account);
  size_t size() const { return accounts_.size(); }

 private:
  std::map<std::string, Account, std::less<>> accounts_;
};

}  // namespace threadmill::web
