// result.h - expected-style results with a small typed error for threadmill's lib/.
//
// DESCRIPTION
//   Result<T> holds either a value or an Error{code, message}. lib/ returns these for
//   everything that can fail at run time (store writes, DNS, parsing of untrusted input);
//   exceptions are kept for start-up and configuration. std::expected is C++23, so this is
//   the smallest subset threadmill uses.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace threadmill {

enum class ErrorCode {
  kInvalidInput,  // bad data from the outside (mail, config, CLI arguments)
  kNotFound,
  kStore,      // LMDB or spool trouble
  kTemporary,  // retry later: DNS time-out, map full, busy
  kPermission,
  kInternal,  // a broken invariant
  kRefused,   // a rule said no (reply rules, rate limits)
};

const char* ToString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : data_(std::move(error)) {}  // NOLINT

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace threadmill
