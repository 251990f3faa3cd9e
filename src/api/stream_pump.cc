#include "api/stream_pump.h"

namespace cachet::api {

bool PumpStream(Generation& g, ByteSink& sink, std::chrono::milliseconds keepalive,
                const std::string& keepalive_text,
                const std::function<bool(const Delta&)>& on_delta) {
  Delta d;
  while (!g.finished()) {
    if (!g.Next(&d, std::chrono::steady_clock::now() + keepalive)) {
      if (g.finished()) break;
      if (!sink.Write(keepalive_text)) {
        g.Cancel();
        return false;
      }
      continue;
    }
    if (d.empty()) continue;
    if (!on_delta(d)) {
      g.Cancel();
      return false;
    }
  }
  return true;
}

std::string SseData(const std::string& json) { return "data: " + json + "\n\n"; }

std::string SseEvent(const std::string& event, const std::string& json) {
  return "event: " + event + "\ndata: " + json + "\n\n";
}

}  // namespace cachet::api
