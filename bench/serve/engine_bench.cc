// engine_bench: the serving engine in process (no HTTP), on a synthetic model held in memory.
//
//   engine_bench [--preset llama-tiny] [--type q8_0] [--threads 1] [--scenario all]
//
// Scenarios (each prints one table row per measurement):
//   streams  output tokens/s of 1 stream vs 16 concurrent streams (greedy, 32 tokens each)
//   prefix   agent-style turns: a shared 1,024-token system prefix + a unique 32-token tail;
//            TTFT p50/p99 over 16 sessions with the prefix cache on vs off
//   disk     a 4,032-token prefix: TTFT when recomputed vs restored from the disk tier after a
//            restart of the engine
// TTFT is measured from Submit() to the first token's engine timestamp.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/create_engine.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace cachet {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string preset = "llama-tiny";
  std::string type = "q8_0";
  int threads = 1;
  std::string scenario = "all";
};

std::shared_ptr<model::Model> Load(const Args& a) {
  const model::Preset* p = model::FindPreset(a.preset);
  const std::optional<DType> t = DTypeFromName(a.type);
  if (p == nullptr || !t) {
    std::fprintf(stderr, "unknown preset or type\n");
    std::exit(2);
  }
  ThreadPool pool(a.threads);
  auto sm = model::MakeSyntheticModel(*p, *t, 1, 0, &pool);
  if (!sm.ok()) std::exit(2);
  auto m = model::LoadModel(
      std::shared_ptr<const model::ModelFile>(model::InMemoryModelFile(std::move(sm).value())));
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    std::exit(2);
  }
  return std::shared_ptr<model::Model>(std::move(m).value());
}

std::vector<int32_t> Tokens(int n, int salt, int64_t vocab) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<int32_t>((i * 7919 + salt * 104729) % vocab);
  return v;
}

engine::GenerateRequest Req(std::vector<int32_t> prompt, int max_tokens) {
  engine::GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

struct Done {
  double ttft_s = 0;
  double tpot_s = 0;  // (last token arrival - first token arrival) / (tokens - 1), client side
  int64_t tokens = 0;
  int64_t cached = 0;
};

// Waits for a stream's end.
Done Drain(engine::RequestStream& s, Clock::time_point submitted) {
  Done d;
  engine::Event e;
  Clock::time_point first{}, last{};
  while (s.Next(&e, Clock::now() + std::chrono::minutes(10))) {
    if (!e.tokens.empty()) {
      last = Clock::now();
      if (first == Clock::time_point{}) first = last;
    }
    d.tokens += static_cast<int64_t>(e.tokens.size());
    if (d.tokens > 1) d.tpot_s = std::chrono::duration<double>(last - first).count() / (d.tokens - 1);
    if (d.ttft_s == 0 && e.first_token_time != Clock::time_point{}) {
      d.ttft_s = std::chrono::duration<double>(e.first_token_time - submitted).count();
    }
    if (e.finished) {
      d.cached = e.usage.prompt_cached_tokens;
      break;
    }
  }
  return d;
}

std::unique_ptr<engine::Engine> MakeEngine(std::shared_ptr<model::Model> m, const Args& a,
                                           bool cache, const std::string& dir = "") {
  engine::EngineConfig c;
  c.model_name = a.preset;
  c.kv_budget_bytes = int64_t{512} << 20;
  c.max_batch_tokens = 512;
  c.max_running = 16;
  c.threads = a.threads;
  c.prefix_cache = cache;
  c.cache_dir = dir;
  auto e = engine::CreateEngine(std::move(m), c);
  if (!e.ok()) {
    std::fprintf(stderr, "%s\n", e.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(e).value();
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

void Streams(std::shared_ptr<model::Model> m, const Args& a) {
  const int64_t V = m->hparams().n_vocab;
  for (int n : {1, 16}) {
    auto e = MakeEngine(m, a, /*cache=*/false);
    const auto t0 = Clock::now();
    std::vector<std::shared_ptr<engine::RequestStream>> s;
    for (int i = 0; i < n; ++i) s.push_back(*e->Submit(Req(Tokens(16, i, V), 32)));
    // One reader per stream, as HTTP threads would be (TPOT is measured at the reader).
    std::vector<Done> done(n);
    std::vector<std::thread> readers;
    for (int i = 0; i < n; ++i) readers.emplace_back([&, i] { done[i] = Drain(*s[i], t0); });
    for (auto& r : readers) r.join();
    int64_t tokens = 0;
    std::vector<double> tpot;
    for (const Done& d : done) {
      tokens += d.tokens;
      tpot.push_back(d.tpot_s);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("| streams | %2d concurrent | %.1f output tok/s | TPOT p50 %.2f ms p99 %.2f ms |\n",
                n, tokens / secs, 1e3 * Percentile(tpot, 0.5), 1e3 * Percentile(tpot, 0.99));
  }
}

void Prefix(std::shared_ptr<model::Model> m, const Args& a) {
  const int64_t V = m->hparams().n_vocab;
  const auto system = Tokens(1024, 99, V);
  for (bool cache : {false, true}) {
    auto e = MakeEngine(m, a, cache);
    std::vector<double> ttft;
    for (int i = 0; i < 17; ++i) {
      auto prompt = system;
      const auto tail = Tokens(32, 1000 + i, V);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      const auto t0 = Clock::now();
      auto s = *e->Submit(Req(prompt, 4));
      Done d = Drain(*s, t0);
      if (i > 0) ttft.push_back(d.ttft_s);  // the first session warms the cache
    }
    const engine::EngineStats st = e->stats();
    const double hits = static_cast<double>(st.cache_hit_tokens_ram + st.cache_hit_tokens_disk);
    std::printf("| prefix | cache %-3s | TTFT p50 %.2f ms | p99 %.2f ms | hit rate %.0f%% | KV %lld of "
                "%lld blocks |\n",
                cache ? "on" : "off", 1e3 * Percentile(ttft, 0.5), 1e3 * Percentile(ttft, 0.99),
                100.0 * hits / std::max(1.0, hits + static_cast<double>(st.cache_miss_tokens)),
                static_cast<long long>(st.kv_blocks_used), static_cast<long long>(st.kv_blocks_total));
  }
}

void Disk(std::shared_ptr<model::Model> m, const Args& a) {
  const int64_t V = m->hparams().n_vocab;
  const auto prompt = Tokens(4032 + 8, 7, V);
  const std::string dir = "/tmp/cachet_engine_bench_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  double recompute = 0, restored = 0;
  int64_t cached = 0;
  {
    auto e = MakeEngine(m, a, true, dir);
    const auto t0 = Clock::now();
    recompute = Drain(**e->Submit(Req(prompt, 2)), t0).ttft_s;
  }  // shutdown spills the cached blocks to disk
  {
    auto e = MakeEngine(m, a, true, dir);
    const auto t0 = Clock::now();
    Done d = Drain(**e->Submit(Req(prompt, 2)), t0);
    restored = d.ttft_s;
    cached = d.cached;
  }
  std::filesystem::remove_all(dir);
  std::printf("| disk | %lld-token prefix | recompute TTFT %.1f ms | restored %.1f ms (%.1fx) |\n",
              static_cast<long long>(cached), 1e3 * recompute, 1e3 * restored,
              restored > 0 ? recompute / restored : 0.0);
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--preset") a.preset = v;
    else if (k == "--type") a.type = v;
    else if (k == "--threads") a.threads = std::max(1, std::atoi(v.c_str()));
    else if (k == "--scenario") a.scenario = v;
  }
  auto m = Load(a);
  std::printf("engine_bench: %s %s, %d thread(s)\n", a.preset.c_str(), a.type.c_str(), a.threads);
  if (a.scenario == "all" || a.scenario == "streams") Streams(m, a);
  if (a.scenario == "all" || a.scenario == "prefix") Prefix(m, a);
  if (a.scenario == "all" || a.scenario == "disk") Disk(m, a);
  return 0;
}

}  // namespace
}  // namespace cachet

int main(int argc, char** argv) { return cachet::Main(argc, argv); }
