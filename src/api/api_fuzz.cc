// libFuzzer target: arbitrary request bodies through the OpenAI and Anthropic handlers (see
// testing/request_fuzz.h). Seeds: fuzz_corpus/.
#include <cstddef>
#include <cstdint>

#include "api/testing/request_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cachet::api::testing::FuzzOneRequest(data, size);
  return 0;
}
