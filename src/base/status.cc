#include "base/status.h"

namespace cachet {

std::string_view StatusCodeText(StatusCode code) {
  switch (code) {
#define CACHET_X(name, text) \
  case StatusCode::name:     \
    return text;
    CACHET_STATUS_CODES(CACHET_X)
#undef CACHET_X
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(StatusCodeText(code_));
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace cachet
