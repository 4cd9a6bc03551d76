// tpmdiag's one error type and Result<T>, used at every module boundary.
//
// Errors are values, not exceptions: a function that can fail returns
// Result<T>; the caller tests ok() and reads error(). The message is one line
// that already says where ("rules/x.json: rule 'a.b': field 'pattern': ...")
// so it can be printed as is, prefixed with "tpmdiag: error: ".
//
//   Result<int> parse(std::string_view s);
//   auto r = parse("12");
//   if (!r) { std::cerr << r.error().message << '\n'; return 2; }
//   use(*r);
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tpmdiag {

struct Error {
  std::string message;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Status(Ok{}); }

}  // namespace tpmdiag
