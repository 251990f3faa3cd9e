// One fuzz input through the API layer: byte 0 picks the endpoint (OpenAI chat, completions,
// Anthropic messages, count_tokens), the rest is the request body. The reply must be a
// well-formed status with a JSON body (or a stream that runs to its end); anything else aborts.
// Used by the libFuzzer target (api_fuzz.cc) and by a unit test that replays a corpus with
// deterministic mutations.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cachet::api::testing {

// Returns the HTTP status the request got.
int FuzzOneRequest(const uint8_t* data, size_t size);

}  // namespace cachet::api::testing
