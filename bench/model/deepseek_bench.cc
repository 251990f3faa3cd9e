// deepseek2 decode against its roofline, and KV bytes per token against GQA layouts.
//
// Usage: deepseek_bench --model F.gguf [--threads N] [--ctx P] [--tokens N] [--spec K]
//   Reads every weight page once (the file is mapped), prefills P tokens (default 64), decodes 4
//   untimed tokens, then 3 times: measures the streaming-read bandwidth (best of 3 over 1 GiB,
//   same pool) and times N decode tokens (default 16) of one sequence. Prints per repetition:
//   bytes      the bytes one decode token must read: every attention / dense / shared / router
//              matrix of the trunk, the chosen experts (k of E of each MoE layer, at the file's
//              types), the output matrix, one embedding row, and the latent cache (ctx tokens)
//   decode     tokens/s measured, the roofline (bandwidth / bytes) and the ratio; then the
//              median ratio
//   kv         bytes per token of this model's cache vs GQA layouts of the same hidden size
//   spec       with --spec K (a file with an MTP block): greedy decode of N tokens after a P-token
//              prompt, plain vs MTP speculative with K drafts: tokens/s, acceptance, identical?
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "model/hparams.h"
#include "model/model.h"
#include "model/speculative.h"
#include "peak_probe.h"

namespace cachet::bench {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Bandwidth(ThreadPool& pool) {
  const int64_t bytes = int64_t{1} << 30, n = bytes / 4;
  float* a = static_cast<float*>(std::aligned_alloc(64, bytes));
  pool.ParallelFor(n, 1 << 20, [&](int64_t b, int64_t e) { std::fill(a + b, a + e, 1.0f); });
  double best = 0;
  std::vector<float> sink(pool.size());
  for (int r = 0; r < 3; ++r) {
    const double t0 = Now();
    pool.Run([&](int ith, int nth) {
      const int64_t b = n / nth * ith / 16 * 16;
      const int64_t e = ith == nth - 1 ? n : n / nth * (ith + 1) / 16 * 16;
      sink[ith] = StreamRead(a + b, e - b);
    });
    best = std::max(best, bytes / (Now() - t0) / 1e9);
  }
  std::free(a);
  return best;
}

int64_t BlockIndex(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoll(name.c_str() + 4);
}

// Bytes of weights one decode token reads (see the file comment).
double BytesPerToken(const model::ModelFile& f, const model::DeepSeekHParams& ds) {
  double total = 0;
  for (const auto& t : f.tensors()) {
    const int64_t blk = BlockIndex(t.name);
    if (blk >= ds.base.n_layer) continue;  // MTP blocks are not part of a trunk step
    if (t.name == "token_embd.weight") {
      total += static_cast<double>(t.nbytes) / t.ne[1];  // one row
    } else if (t.name.find("_exps.") != std::string::npos) {
      total += static_cast<double>(t.nbytes) * ds.n_expert_used / ds.n_expert;
    } else {
      total += static_cast<double>(t.nbytes);
    }
  }
  return total;
}

struct Args {
  std::string model;
  int threads = 2;
  int64_t ctx = 64, tokens = 16, spec = 0;
};

bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (k == "--model") {
      a->model = v;
    } else if (k == "--threads") {
      a->threads = std::atoi(v);
    } else if (k == "--ctx") {
      a->ctx = std::atoll(v);
    } else if (k == "--tokens") {
      a->tokens = std::atoll(v);
    } else if (k == "--spec") {
      a->spec = std::atoll(v);
    } else {
      return false;
    }
  }
  return !a->model.empty() && a->threads > 0 && a->ctx > 0 && a->tokens > 0;
}

void PrintKv(const model::Model& m) {
  const model::HParams& hp = m.hparams();
  const model::KvLayout kv = m.kv_layout();
  std::printf("kv model=%s bytes_per_token=%lld (layers=%lld x %lld)\n", hp.arch.c_str(),
              static_cast<long long>(kv.bytes_per_token()), static_cast<long long>(kv.n_layer),
              static_cast<long long>(kv.bytes_per_token_layer()));
  // GQA layouts of the same hidden size and layer count, f16, head_dim = d / H.
  const int64_t hd = hp.n_embd / hp.n_head;
  for (int64_t kvh : {hp.n_head, int64_t{8}, int64_t{4}, int64_t{2}}) {
    const int64_t per_layer = 2 * kvh * hd * 2;
    std::printf("kv gqa kv_heads=%lld head_dim=%lld bytes_per_token=%lld ratio_vs_model=%.2f\n",
                static_cast<long long>(kvh), static_cast<long long>(hd),
                static_cast<long long>(per_layer * kv.n_layer),
                static_cast<double>(per_layer) / kv.bytes_per_token_layer());
  }
}

int RunSpec(model::Model& m, const Args& a, ThreadPool* pool) {
  std::vector<int32_t> prompt(a.ctx);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919) % 1000);
  double t0 = Now();
  auto plain = model::GreedyDecode(m, prompt, a.tokens, pool);
  const double plain_s = Now() - t0;
  model::SpecOptions o;
  o.draft_tokens = a.spec;
  auto sp = model::MtpSpeculator::Create(&m, o);
  if (!plain.ok() || !sp.ok()) {
    std::fprintf(stderr, "%s\n", (plain.ok() ? sp.status() : plain.status()).ToString().c_str());
    return 1;
  }
  t0 = Now();
  auto out = (*sp)->Generate(prompt, a.tokens, pool);
  const double spec_s = Now() - t0;
  if (!out.ok()) return 1;
  const model::SpecStats& st = (*sp)->stats();
  std::printf(
      "spec k=%lld tokens=%lld plain_tok_per_s=%.2f spec_tok_per_s=%.2f acceptance=%.3f "
      "rounds=%lld identical=%s (both include the %lld-token prefill)\n",
      static_cast<long long>(a.spec), static_cast<long long>(a.tokens), a.tokens / plain_s,
      a.tokens / spec_s, st.acceptance(), static_cast<long long>(st.rounds),
      *out == *plain ? "yes" : "NO", static_cast<long long>(a.ctx));
  return 0;
}

int Main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: deepseek_bench --model F.gguf [--threads N] [--ctx P] "
                 "[--tokens N]\n");
    return 2;
  }
  auto f = model::OpenGgufModelFile(a.model);
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<const model::ModelFile> file(std::move(f).value());
  auto ds = model::ReadDeepSeekHParams(*file, "deepseek2");
  auto m = model::LoadModel(file);
  if (!ds.ok() || !m.ok()) {
    std::fprintf(stderr, "%s\n", (ds.ok() ? m.status() : ds.status()).ToString().c_str());
    return 1;
  }
  ThreadPool pool(a.threads);
  if (a.spec > 0) return RunSpec(**m, a, &pool);
  constexpr int64_t kWarmup = 4, kReps = 3;
  const int64_t n_pos = a.ctx + kWarmup + kReps * a.tokens;
  model::SequenceKv kv((*m)->kv_layout());
  if (!kv.Reserve(n_pos).ok()) return 1;
  std::vector<int32_t> toks(n_pos);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7919) % 1000 + 10);
  uint64_t touched = 0;  // fault the mapped weights in: decode must not time page faults
  for (const auto& t : file->tensors()) {
    const auto* p = static_cast<const uint8_t*>(t.data);
    for (uint64_t i = 0; i < t.nbytes; i += 4096) touched += p[i];
  }
  std::printf("touched checksum=%llu isa=%s threads=%d\n", static_cast<unsigned long long>(touched),
              std::string(kernels::Kernels().isa).c_str(), a.threads);
  model::SeqBatch pre = model::MakeSeqBatch(kv, toks.data(), a.ctx, 0);
  const double tp = Now();
  if (!(*m)->Forward({&pre, 1}, &pool).ok()) return 1;
  std::printf("prefill tokens=%lld tok_per_s=%.1f\n", static_cast<long long>(a.ctx),
              a.ctx / (Now() - tp));
  int64_t pos = a.ctx;
  auto decode = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i, ++pos) {
      model::SeqBatch d = model::MakeSeqBatch(kv, toks.data() + pos, 1, pos);
      if (!(*m)->Forward({&d, 1}, &pool).ok()) return false;
    }
    return true;
  };
  if (!decode(kWarmup)) return 1;
  const double weights = BytesPerToken(*file, *ds);
  const double kv_tok = static_cast<double>((*m)->kv_layout().bytes_per_token());
  // The machine may be shared: each repetition measures the bandwidth right before its decode
  // tokens, and the ratio uses that pair.
  std::vector<double> ratios;
  for (int64_t r = 0; r < kReps; ++r) {
    const double bw = Bandwidth(pool);
    const double bytes = weights + kv_tok * (pos + a.tokens / 2);
    const double t0 = Now();
    if (!decode(a.tokens)) return 1;
    const double tps = a.tokens / (Now() - t0), roof = bw * 1e9 / bytes;
    ratios.push_back(tps / roof);
    std::printf("decode rep=%lld ctx=%lld bytes_per_token=%.0f (kv %.0f) bandwidth_gbps=%.2f "
                "tok_per_s=%.2f roofline=%.2f ratio=%.2f\n",
                static_cast<long long>(r), static_cast<long long>(pos - a.tokens), bytes,
                bytes - weights, bw, tps, roof, tps / roof);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("decode median_ratio=%.2f\n", ratios[ratios.size() / 2]);
  PrintKv(**m);
  return 0;
}

}  // namespace
}  // namespace cachet::bench

int main(int argc, char** argv) { return cachet::bench::Main(argc, argv); }
