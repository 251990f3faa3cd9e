#include "http/auth.h"

namespace cachet::http {

namespace {

class NoAuth final : public Authenticator {
 public:
  Result<std::string> Authenticate(std::string_view) const override { return std::string(); }
  bool open() const override { return true; }
};

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

class StaticKeyAuth final : public Authenticator {
 public:
  explicit StaticKeyAuth(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  Result<std::string> Authenticate(std::string_view key) const override {
    if (key.empty()) {
      return Unauthenticated(
          "Missing API key: send 'Authorization: Bearer <key>' or "
          "'x-api-key: <key>'.");
    }
    int found = -1;
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (ConstantTimeEqual(keys_[i], key)) found = static_cast<int>(i);
    }
    if (found < 0) return Unauthenticated("Incorrect API key provided.");
    return "key-" + std::to_string(found);
  }

 private:
  std::vector<std::string> keys_;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::shared_ptr<Authenticator> MakeNoAuth() { return std::make_shared<NoAuth>(); }

std::shared_ptr<Authenticator> MakeStaticKeyAuth(std::vector<std::string> keys) {
  return std::make_shared<StaticKeyAuth>(std::move(keys));
}

std::string ExtractApiKey(std::string_view authorization, std::string_view x_api_key) {
  authorization = Trim(authorization);
  if (authorization.size() > 7) {
    std::string scheme(authorization.substr(0, 7));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer ") return std::string(Trim(authorization.substr(7)));
  }
  return std::string(Trim(x_api_key));
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace cachet::http
