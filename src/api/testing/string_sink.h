// A ByteSink that records what a streaming reply wrote; it can fail after N writes to act as a
// client that went away.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/service.h"

namespace cachet::api::testing {

class StringSink final : public ByteSink {
 public:
  explicit StringSink(int fail_after = -1) : fail_after_(fail_after) {}
  bool Write(std::string_view data) override {
    if (fail_after_ >= 0 && writes_ >= fail_after_) return false;
    ++writes_;
    text += data;
    return true;
  }
  // The JSON payloads of "data: " lines, in order.
  std::vector<std::string> DataLines() const {
    std::vector<std::string> out;
    size_t pos = 0;
    while ((pos = text.find("data: ", pos)) != std::string::npos) {
      size_t end = text.find("\n", pos);
      out.push_back(text.substr(pos + 6, end - pos - 6));
      pos = end;
    }
    return out;
  }
  std::string text;

 private:
  int fail_after_;
  int writes_ = 0;
};

}  // namespace cachet::api::testing
