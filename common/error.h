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
//
//   if (!s && s.error().kind == ErrorKind::truncated) ...   // branch on the kind, not the text
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tpmdiag {

// What went wrong, for callers that branch on it (as simdjson's error_code
// and RE2's ErrorCode sit beside their messages).
enum class ErrorKind {
  other,      // anything else: bad data, a usage mistake
  io,         // the system refused: open, read, write
  truncated,  // the input ends early (a cut .gz or archive): what came before was read
  corrupt,    // the input is not what it claims (bad deflate data, a broken archive)
  limit,      // a configured limit was reached (--max-decompressed, --max-line, ...)
};

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::other;
};

inline Error make_error(std::string message, ErrorKind kind = ErrorKind::other) {
  return Error{std::move(message), kind};
}

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
