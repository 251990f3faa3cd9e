// The loop every streaming endpoint runs on its HTTP thread: pull deltas from a Generation,
// hand each non-empty one to the protocol's renderer, and write a keep-alive while waiting (which
// is also how a vanished client is noticed: the write fails and the request is cancelled).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "api/generation.h"
#include "api/service.h"

namespace cachet::api {

// Returns true when the generation finished and every write succeeded; false when the client went
// away (the generation is cancelled before returning). `on_delta` returns false when its write
// failed.
bool PumpStream(Generation& g, ByteSink& sink, std::chrono::milliseconds keepalive,
                const std::string& keepalive_text,
                const std::function<bool(const Delta&)>& on_delta);

// "data: <json>\n\n" and "event: <name>\ndata: <json>\n\n".
std::string SseData(const std::string& json);
std::string SseEvent(const std::string& event, const std::string& json);

}  // namespace cachet::api
