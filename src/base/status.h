// Status and Result<T>: errors are values across module boundaries.
//
// A Status is OK or carries a code from the single table below plus a human-readable message that
// names what was wrong (a field, a path, a limit). Nothing a client sends may abort the process:
// code below the API layer returns a Status instead.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cachet {

// The one table of error codes. X(name, http-ish meaning) — the API layer maps these to protocol
// errors; keep the list short and semantic.
#define CACHET_STATUS_CODES(X)                                                 \
  X(kOk, "ok")                                                                 \
  X(kInvalidArgument, "invalid argument")      /* bad input from a caller */   \
  X(kNotFound, "not found")                                                    \
  X(kAlreadyExists, "already exists")                                          \
  X(kOutOfRange, "out of range")               /* a limit was exceeded */      \
  X(kCorrupt, "corrupt data")                  /* a file failed validation */  \
  X(kUnsupported, "unsupported")               /* valid but not implemented */ \
  X(kIoError, "I/O error")                                                     \
  X(kResourceExhausted, "resource exhausted")  /* memory, queue, budget */     \
  X(kPermissionDenied, "permission denied")                                    \
  X(kUnauthenticated, "unauthenticated")                                       \
  X(kCancelled, "cancelled")                                                   \
  X(kDeadlineExceeded, "deadline exceeded")                                    \
  X(kUnavailable, "unavailable")                                               \
  X(kInsufficientFunds, "insufficient funds")  /* balance or budget (HTTP 402) */ \
  X(kInternal, "internal error")

enum class StatusCode {
#define CACHET_X(name, text) name,
  CACHET_STATUS_CODES(CACHET_X)
#undef CACHET_X
};

// Returns the short English text for `code` ("invalid argument", ...).
std::string_view StatusCodeText(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>" or "ok".
  std::string ToString() const;

  // Returns a copy with "context: " prepended to the message (for adding the caller's view).
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InsufficientFunds(std::string m) {
  return {StatusCode::kInsufficientFunds, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cachet

// Propagate a non-OK Status from an expression returning Status.
#define CACHET_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::cachet::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define CACHET_CONCAT_INNER(a, b) a##b
#define CACHET_CONCAT(a, b) CACHET_CONCAT_INNER(a, b)
// CACHET_ASSIGN_OR_RETURN(auto x, ExprReturningResult());
#define CACHET_ASSIGN_OR_RETURN(lhs, expr) \
  CACHET_ASSIGN_OR_RETURN_IMPL(CACHET_CONCAT(_res_, __LINE__), lhs, expr)
#define CACHET_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
