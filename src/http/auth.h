// Authentication hook: every API endpoint (all but /health and /metrics) asks an Authenticator
// which account a key belongs to. Accounts and real keys come with billing; billing will
// provide its own Authenticator (keys in the ledger) behind this interface.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachet::http {

// Thread-safety: Authenticate is called from many HTTP threads at once.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The account id for `api_key` ("" is a valid id: the anonymous account).
  // Errors: Unauthenticated (missing or unknown key: 401), PermissionDenied (key disabled: 403),
  // ResourceExhausted (over a rate limit: 429).
  virtual Result<std::string> Authenticate(std::string_view api_key) const = 0;
  // True when no key is needed (--no-auth).
  virtual bool open() const { return false; }
};

// --no-auth: every request is the anonymous account "". Only allowed on a loopback host.
std::shared_ptr<Authenticator> MakeNoAuth();

// A fixed set of keys (from --api-key / config) until billing brings accounts; each key is its own
// account ("key-<index>"). Comparison does not stop at the first differing byte.
std::shared_ptr<Authenticator> MakeStaticKeyAuth(std::vector<std::string> keys);

// The key from "Authorization: Bearer <key>" or "x-api-key: <key>" ("" when neither).
std::string ExtractApiKey(std::string_view authorization, std::string_view x_api_key);

// 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(std::string_view host);

}  // namespace cachet::http
