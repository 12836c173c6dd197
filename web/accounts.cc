#include "web/accounts.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/unique_fd.h"

namespace threadmill::web {
namespace {

std::vector<std::string> SplitComma(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

const char* ToString(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kApprover:
      return "approver";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

bool ParseRole(std::string_view text, Role* out) {
  if (text == "viewer") {
    *out = Role::kViewer;
  } else if (text == "approver") {
    *out = Role::kApprover;
  } else if (text == "admin") {
    *out = Role::kAdmin;
  } else {
    return false;
  }
  return true;
}

bool Account::SeesHandler(std::string_view handler) const {
  if (role == Role::kAdmin || handlers.empty()) return true;
  for (const auto& h : handlers) {
    if (h == handler) return true;
  }
  return false;
}

bool ValidUserName(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  for (char c : user) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool InitSodium() { return sodium_init() >= 0; }

Result<std::string> HashPassword(std::string_view password) {
  if (!InitSodium()) return MakeError(ErrorCode::kInternal, "libsodium cannot start");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return MakeError(ErrorCode::kInternal, "argon2id hashing failed (out of memory)");
  }
  return std::string(out);
}

bool VerifyPassword(const std::string& hash, std::string_view password) {
  if (!InitSodium() || hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<Accounts> Accounts::Parse(std::string_view text) {
  Accounts out;
  size_t line_no = 0;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& what) {
      return MakeError(ErrorCode::kInvalidInput,
                       "accounts line " + std::to_string(line_no) + ": " + what);
    };
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    size_t c = b == std::string::npos ? b : line.find(':', b + 1);
    if (c == std::string::npos) return bad("not USER:ROLE:HANDLERS:HASH");
    Account account;
    account.user = line.substr(0, a);
    if (!ValidUserName(account.user)) return bad("bad user name");
    if (!ParseRole(std::string_view(line).substr(a + 1, b - a - 1), &account.role)) {
      return bad("role must be viewer, approver or admin");
    }
    account.handlers = SplitComma(std::string_view(line).substr(b + 1, c - b - 1));
    account.hash = line.substr(c + 1);
    if (!account.hash.starts_with("$argon2")) return bad("not an argon2 hash");
    out.accounts_[account.user] = std::move(account);
  }
  return out;
}

Result<Accounts> Accounts::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Accounts{};
    return MakeError(ErrorCode::kPermission, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = Parse(text.str());
  if (!parsed.ok()) return MakeError(parsed.error().code, path + ": " + parsed.error().message);
  return parsed;
}

std::string Accounts::Serialize() const {
  std::string out = "# threadmill-web accounts: USER:ROLE:HANDLERS:ARGON2ID-HASH\n";
  for (const auto& [user, a] : accounts_) {
    std::string handlers;
    for (const auto& h : a.handlers) handlers += (handlers.empty() ? "" : ",") + h;
    out += user + ":" + ToString(a.role) + ":" + handlers + ":" + a.hash + "\n";
  }
  return out;
}

Status Accounts::Save(const std::string& path) const {
  std::string tmp = path + ".tmp";
  std::string text = Serialize();
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd) {
    return MakeError(ErrorCode::kPermission, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      fsync(fd.get()) != 0) {
    unlink(tmp.c_str());
    return MakeError(ErrorCode::kStore, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  fchmod(fd.get(), 0640);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return MakeError(ErrorCode::kStore, "cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return {};
}

const Account* Accounts::Find(std::string_view user) const {
  auto it = accounts_.find(user);
  return it == accounts_.end() ? nullptr : &it->second;
}

void Accounts::Set(Account account) {
  std::string user = account.user;
  accounts_[user] = std::move(account);
}

}  // namespace threadmill::web
