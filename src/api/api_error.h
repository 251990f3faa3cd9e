// ApiError: one protocol-neutral error value that each protocol renders in its own shape
// (OpenAI: {"error":{message,type,param,code}}; Anthropic:
// {"type":"error","error":{type,message}}).
//
// Handlers build an ApiError (or map an engine/tokenizer Status with FromStatus) and never choose
// status codes or type strings themselves: the table in api_error.cc is the one place that maps
// an error kind to each protocol's status code and type.
#pragma once

#include <string>

#include "base/status.h"

namespace cachet::api {

enum class Protocol { kOpenAI, kAnthropic };

enum class ErrorKind {
  kInvalidRequest,       // 400: names the field in `param`
  kAuthentication,       // 401: missing or unknown key
  kInsufficientBalance,  // 402
  kPermission,           // 403
  kNotFound,             // 404: unknown route
  kModelNotFound,        // 404: unknown model
  kRequestTooLarge,      // 413: body over the limit
  kUnprocessable,        // 422: well-formed but not processable
  kRateLimit,            // 429: with Retry-After
  kInternal,             // 500
  kOverloaded,           // 503 (OpenAI) / 529 (Anthropic): queue full, draining, queue timeout
};

struct ApiError {
  ErrorKind kind = ErrorKind::kInvalidRequest;
  std::string message;
  std::string param;      // the offending field ("messages[2].content"), "" when none
  std::string code;       // OpenAI's machine-readable code ("model_not_found"), "" for default
  int retry_after_s = 0;  // > 0: sent as Retry-After
};

inline ApiError InvalidRequest(std::string message, std::string param = "") {
  return ApiError{ErrorKind::kInvalidRequest, std::move(message), std::move(param), "", 0};
}

// HTTP status for `kind` in `protocol`.
int HttpStatus(Protocol protocol, ErrorKind kind);
// The protocol's error type string ("invalid_request_error", "overloaded_error", ...).
std::string ErrorType(Protocol protocol, ErrorKind kind);
// The JSON body for `e` in the protocol's shape.
std::string RenderError(Protocol protocol, const ApiError& e);

// Maps a Status from the engine or tokenizer: InvalidArgument/OutOfRange -> 400,
// ResourceExhausted/Unavailable/DeadlineExceeded -> overloaded with Retry-After, NotFound -> 404,
// Unauthenticated -> 401, PermissionDenied -> 403, Unsupported -> 400, anything else -> 500
// (message not leaked beyond the status text for internal errors).
ApiError FromStatus(const Status& s);

// The protocol an HTTP path belongs to (anthropic paths: /anthropic/..., /v1/messages...).
Protocol ProtocolForPath(const std::string& path);

}  // namespace cachet::api
