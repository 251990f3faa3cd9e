#include "api/metrics.h"

#include <cstdio>

namespace cachet::api {
namespace {

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// Label values escaped as the exposition format asks (backslash, quote, newline).
std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Line(std::string* out, const std::string& name, const std::string& labels, double v) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " " + FormatDouble(v) + "\n";
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

int64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    Line(out, name + "_bucket", "le=\"" + FormatDouble(bounds_[i]) + "\"",
         static_cast<double>(cumulative));
  }
  cumulative += counts_.back();
  Line(out, name + "_bucket", "le=\"+Inf\"", static_cast<double>(cumulative));
  Line(out, name + "_sum", "", sum_);
  Line(out, name + "_count", "", static_cast<double>(count_));
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::CountRequest(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::CountTokens(int64_t prompt_cached, int64_t prompt_uncached, int64_t completion) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_prompt_cached_ += prompt_cached;
  tokens_prompt_uncached_ += prompt_uncached;
  tokens_completion_ += completion;
}

void Metrics::AddInflight(int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  inflight_ += delta;
}

int64_t Metrics::requests(const std::string& route, int status) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find({route, status});
  return it == requests_.end() ? 0 : it->second;
}

int64_t Metrics::tokens_completion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_completion_;
}

std::string Metrics::Render(
    const std::vector<std::pair<std::string, engine::EngineStats>>& engines) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Header(&out, "cachet_http_requests_total", "counter", "HTTP requests by route and status.");
    for (const auto& [key, n] : requests_) {
      Line(&out, "cachet_http_requests_total",
           "route=\"" + EscapeLabel(key.first) + "\",status=\"" + std::to_string(key.second) + "\"",
           static_cast<double>(n));
    }
    Header(&out, "cachet_http_errors_total", "counter", "HTTP responses with status >= 400.");
    for (const auto& [key, n] : requests_) {
      if (key.second < 400) continue;
      Line(&out, "cachet_http_errors_total",
           "route=\"" + EscapeLabel(key.first) + "\",status=\"" + std::to_string(key.second) + "\"",
           static_cast<double>(n));
    }
    Header(&out, "cachet_tokens_total", "counter", "Tokens served by kind.");
    Line(&out, "cachet_tokens_total", "kind=\"prompt_cached\"",
         static_cast<double>(tokens_prompt_cached_));
    Line(&out, "cachet_tokens_total", "kind=\"prompt_uncached\"",
         static_cast<double>(tokens_prompt_uncached_));
    Line(&out, "cachet_tokens_total", "kind=\"completion\"",
         static_cast<double>(tokens_completion_));
    Header(&out, "cachet_inflight_requests", "gauge", "Requests being served.");
    Line(&out, "cachet_inflight_requests", "", static_cast<double>(inflight_));
  }
  Header(&out, "cachet_ttft_seconds", "histogram", "Time to first token.");
  ttft_.Render("cachet_ttft_seconds", &out);
  Header(&out, "cachet_tpot_seconds", "histogram", "Time per output token after the first.");
  tpot_.Render("cachet_tpot_seconds", &out);
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    int64_t engine::EngineStats::*field;
    const char* extra_label;
  };
  const Gauge gauges[] = {
      {"cachet_queue_depth", "gauge", "Requests waiting for admission.",
       &engine::EngineStats::queue_depth, ""},
      {"cachet_running_requests", "gauge", "Requests in the running batch.",
       &engine::EngineStats::running, ""},
      {"cachet_kv_blocks_used", "gauge", "KV blocks in use.", &engine::EngineStats::kv_blocks_used,
       ""},
      {"cachet_kv_blocks_total", "gauge", "KV blocks in the pool.",
       &engine::EngineStats::kv_blocks_total, ""},
      {"cachet_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from a cache tier.",
       &engine::EngineStats::cache_hit_tokens_ram, "tier=\"ram\""},
      {"cachet_prefix_cache_hit_tokens_total", "", "", &engine::EngineStats::cache_hit_tokens_disk,
       "tier=\"disk\""},
      {"cachet_prefix_cache_miss_tokens_total", "counter", "Prompt tokens computed.",
       &engine::EngineStats::cache_miss_tokens, ""},
  };
  for (const Gauge& g : gauges) {
    if (g.type[0] != '\0') Header(&out, g.name, g.type, g.help);
    for (const auto& [model, stats] : engines) {
      std::string labels = "model=\"" + EscapeLabel(model) + "\"";
      if (g.extra_label[0] != '\0') labels += std::string(",") + g.extra_label;
      Line(&out, g.name, labels, static_cast<double>(stats.*(g.field)));
    }
  }
  return out;
}

}  // namespace cachet::api
