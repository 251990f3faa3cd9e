// Server metrics, rendered in the Prometheus text exposition format (version 0.0.4) for
// GET /metrics.
//
// Counters: requests by route and status, errors by route and status, tokens by kind
// (prompt_cached, prompt_uncached, completion). Histograms: time to first token (TTFT) and time
// per output token after the first (TPOT), in seconds. Engine gauges (queue depth, running, KV
// blocks, prefix-cache hits by tier) are read from each engine's EngineStats at render time.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace cachet::api {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // upper bounds, ascending (+Inf implicit)
  void Observe(double v);
  // Appends "<name>_bucket{le=...} n", _sum and _count lines.
  void Render(const std::string& name, std::string* out) const;
  int64_t count() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // one per bound, plus +Inf (not cumulative)
  double sum_ = 0;
  int64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void CountRequest(const std::string& route, int status);
  void ObserveTtft(double seconds) { ttft_.Observe(seconds); }
  void ObserveTpot(double seconds) { tpot_.Observe(seconds); }
  void CountTokens(int64_t prompt_cached, int64_t prompt_uncached, int64_t completion);
  void AddInflight(int delta);

  // Renders everything; `engines` gives the current stats per model name.
  std::string Render(const std::vector<std::pair<std::string, engine::EngineStats>>& engines) const;

  int64_t requests(const std::string& route, int status) const;
  int64_t tokens_completion() const;
  const Histogram& ttft() const { return ttft_; }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // GUARDED_BY(mu_)
  int64_t tokens_prompt_cached_ = 0;                         // GUARDED_BY(mu_)
  int64_t tokens_prompt_uncached_ = 0;                       // GUARDED_BY(mu_)
  int64_t tokens_completion_ = 0;                            // GUARDED_BY(mu_)
  int64_t inflight_ = 0;                                     // GUARDED_BY(mu_)
  Histogram ttft_;
  Histogram tpot_;
};

}  // namespace cachet::api
