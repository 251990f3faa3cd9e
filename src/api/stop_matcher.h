// Stop strings matched on decoded text, across token boundaries.
//
// Push() gets text as it is decoded and returns the part that can be shown: text that could still
// be the beginning of a stop string is held back until later text rules it out. When a stop
// string completes, the text before it is returned, `stopped()` becomes true, and everything after
// is dropped. Flush() (at the end of generation) returns what is held. Not thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cachet::api {

class StopMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  std::string Push(std::string_view text);
  std::string Flush();
  bool stopped() const { return stopped_; }
  // The stop string that matched ("" until stopped).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
  size_t max_len_ = 0;
};

}  // namespace cachet::api
