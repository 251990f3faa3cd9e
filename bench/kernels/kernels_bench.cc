// Kernel lab: the machine's limits (streaming-read bandwidth, peak f32 FMA and int8 vpdpbusd
// rates) and the matmul kernels measured against them.
//
// Usage: kernels_bench [--threads N] [--isa NAME] [--reps R] [--hot] [--packed] [--cpu-time] [what ...]
//   what: bandwidth | peak | decode | batch | prefill (default: all of them)
// --cpu-time (with --threads 1): time by the thread's CPU clock, which a busy machine's
// preemption does not inflate. --packed: weights in the table's packed layout (KernelTable::pack_weight) where it has one,
// as the model loader uses them. Decode shapes cycle through >= 1 GiB of weight copies so every call streams from DRAM.
// Prints one line per measurement: "<name> key=value ...".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/packed_arena.h"
#include "peak_probe.h"

namespace cachet::bench {
namespace {

using kernels::KernelTable;

bool g_cpu_time = false;  // --cpu-time: the calling thread's CPU time (with --threads 1)

double Now() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Options {
  int threads = 2;
  int reps = 3;
  std::string isa;   // empty: Kernels()
  bool hot = false;  // --hot: one weight copy (cache-resident): compute speed without DRAM
  bool packed = false;  // --packed: the table's packed layout (model loader default)
  std::vector<std::string> what;
};

// GB/s of a streaming read of `bytes` split over the pool; best of reps.
double Bandwidth(ThreadPool& pool, int64_t bytes, int reps) {
  const int64_t n = bytes / 4;
  float* a = static_cast<float*>(std::aligned_alloc(64, n * 4));
  pool.ParallelFor(n, 1 << 20, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) a[i] = 1.0f;
  });
  double best = 0;
  std::vector<float> sink(pool.size());
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    pool.Run([&](int ith, int nth) {
      const int64_t b = n / nth * ith / 16 * 16,
                    e = ith == nth - 1 ? n : n / nth * (ith + 1) / 16 * 16;
      sink[ith] = StreamRead(a + b, e - b);
    });
    best = std::max(best, bytes / (Now() - t0) / 1e9);
  }
  std::free(a);
  return best;
}

// Peak ops/s of a probe over the pool (each thread runs it).
template <typename F>
double Peak(ThreadPool& pool, F probe) {
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    std::vector<double> ops(pool.size());
    const double t0 = Now();
    pool.Run([&](int ith, int) { ops[ith] = probe(iters); });
    double total = 0;
    for (double o : ops) total += o;
    best = std::max(best, total / (Now() - t0));
  }
  return best;
}

struct Weights {
  std::vector<uint8_t> data;    // as a model file's pages: 4 KiB
  kernels::HugeMapping packed;  // as the loader's PackedArena; empty unless --packed and t packs
  int64_t copies = 0, bytes_per_copy = 0, packed_per_copy = 0;
  const void* Copy(int64_t c) const { return data.data() + (c % copies) * bytes_per_copy; }
  const void* Packed(int64_t c) const {
    return packed.empty() ? nullptr : packed.data() + (c % copies) * packed_per_copy;
  }
};

// Adds the table's packed form of every copy (when it has one for t).
void PackWeights(const KernelTable& kt, ThreadPool& pool, DType t, int64_t n, int64_t k,
                 Weights* w) {
  if (kt.packed_bytes == nullptr || kt.packed_bytes(t, n, k) == 0) return;
  w->packed_per_copy = static_cast<int64_t>(kt.packed_bytes(t, n, k));
  w->packed = kernels::HugeMapping::Map(static_cast<size_t>(w->copies * w->packed_per_copy));
  if (w->packed.empty()) std::abort();
  kt.pack_weight(t, w->data.data(), n, k, w->packed.data(), &pool);
  for (int64_t c = 1; c < w->copies; ++c)
    std::memcpy(w->packed.data() + c * w->packed_per_copy, w->packed.data(), w->packed_per_copy);
}

Weights MakeWeights(DType t, int64_t n, int64_t k, int64_t min_bytes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> row(k);
  Weights w;
  w.bytes_per_copy = RowBytes(t, k) * n;
  w.copies = std::max<int64_t>(1, (min_bytes + w.bytes_per_copy - 1) / w.bytes_per_copy);
  w.data.resize(w.copies * w.bytes_per_copy);
  for (int64_t r = 0; r < n; ++r) {
    for (auto& v : row) v = nd(rng);
    if (!kernels::QuantizeRow(t, row.data(), w.data.data() + r * RowBytes(t, k), k).ok())
      std::abort();
  }
  for (int64_t c = 1; c < w.copies; ++c)
    std::memcpy(w.data.data() + c * w.bytes_per_copy, w.data.data(), w.bytes_per_copy);
  return w;
}

// Seconds per matmul call (best of reps, each a sweep over all copies).
double TimeMatmul(const KernelTable& kt, ThreadPool& pool, const Weights& w, DType t, int64_t m,
                  int64_t n, int64_t k, int reps, int64_t calls) {
  std::vector<float> x(m * k), y(m * n);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  kernels::MatmulParams p{t, nullptr, x.data(), y.data(), m, n, k, k, n, false};
  p.w = w.Copy(0);
  p.w_packed = w.Packed(0);
  kt.matmul(p, &pool);  // warm-up (buffers, page faults)
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    for (int64_t c = 0; c < calls; ++c) {
      p.w = w.Copy(c);
      p.w_packed = w.Packed(c);
      kt.matmul(p, &pool);
    }
    best = std::min(best, (Now() - t0) / calls);
  }
  return best;
}

struct Shape {
  int64_t n, k;
};
constexpr Shape kShapes[] = {{2048, 2048}, {8192, 2048}, {2048, 8192}};  // N x K (ne = [K, N])
constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_K};

void RunDecode(const KernelTable& kt, ThreadPool& pool, const Options& o, double bw) {
  for (auto t : kTypes) {
    for (const Shape& s : kShapes) {
      Weights w = MakeWeights(t, s.n, s.k, o.hot ? 0 : int64_t{1} << 30);
      if (o.packed) PackWeights(kt, pool, t, s.n, s.k, &w);
      const double sec =
          TimeMatmul(kt, pool, w, t, 1, s.n, s.k, o.reps, std::max<int64_t>(w.copies, 20));
      const double gbs = w.bytes_per_copy / sec / 1e9;
      std::printf(
          "decode isa=%s type=%s N=%ld K=%ld threads=%d us=%.1f GB/s=%.2f roofline=%.0f%%\n",
          std::string(kt.isa).c_str(), std::string(DTypeName(t)).c_str(), s.n, s.k, pool.size(),
          sec * 1e6, gbs, 100 * gbs / bw);
      std::fflush(stdout);
    }
  }
}

void RunBatch(const KernelTable& kt, ThreadPool& pool, const Options& o) {
  for (auto t : kTypes) {
    for (const Shape& s : kShapes) {
      Weights w = MakeWeights(t, s.n, s.k, o.hot ? 0 : int64_t{1} << 30);
      if (o.packed) PackWeights(kt, pool, t, s.n, s.k, &w);
      const double t1 = TimeMatmul(kt, pool, w, t, 1, s.n, s.k, o.reps, w.copies);
      const double t16 = TimeMatmul(kt, pool, w, t, 16, s.n, s.k, o.reps, w.copies);
      std::printf(
          "batch isa=%s type=%s N=%ld K=%ld threads=%d us_m1=%.1f us_m16=%.1f "
          "speedup_tokens_per_s=%.2fx\n",
          std::string(kt.isa).c_str(), std::string(DTypeName(t)).c_str(), s.n, s.k, pool.size(),
          t1 * 1e6, t16 * 1e6, 16 * t1 / t16);
      std::fflush(stdout);
    }
  }
}

void RunPrefill(const KernelTable& kt, ThreadPool& pool, const Options& o, double peak_int8) {
  for (auto t : kTypes) {
    for (const Shape& s : kShapes) {
      Weights w = MakeWeights(t, s.n, s.k, 0);
      if (o.packed) PackWeights(kt, pool, t, s.n, s.k, &w);
      const double sec = TimeMatmul(kt, pool, w, t, 512, s.n, s.k, 1, 2);
      const double gflops = 2.0 * 512 * s.n * s.k / sec / 1e9;
      std::printf(
          "prefill isa=%s type=%s M=512 N=%ld K=%ld threads=%d ms=%.2f GFLOP/s=%.0f "
          "of_vnni_int8_peak=%.0f%%\n",
          std::string(kt.isa).c_str(), std::string(DTypeName(t)).c_str(), s.n, s.k, pool.size(),
          sec * 1e3, gflops, 100 * gflops / peak_int8);
      std::fflush(stdout);
    }
  }
}

bool Wants(const Options& o, const char* w) {
  return o.what.empty() || std::find(o.what.begin(), o.what.end(), w) != o.what.end();
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      o.threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      o.reps = std::atoi(argv[++i]);
    else if (a == "--isa" && i + 1 < argc)
      o.isa = argv[++i];
    else if (a == "--cpu-time")
      g_cpu_time = true;
    else if (a == "--packed")
      o.packed = true;
    else if (a == "--hot")
      o.hot = true;
    else if (a == "--help" || a[0] == '-') {
      std::fprintf(stderr,
                   "usage: kernels_bench [--threads N] [--isa NAME] [--reps R] [--hot] [--packed] "
                   "[bandwidth|peak|decode|batch|prefill ...]\n");
      return a == "--help" ? 0 : 2;
    } else
      o.what.push_back(a);
  }
  const KernelTable* kt = o.isa.empty() ? &kernels::Kernels() : kernels::KernelsFor(o.isa);
  if (kt == nullptr) {
    std::fprintf(stderr, "isa %s not available on this CPU\n", o.isa.c_str());
    return 2;
  }
  const bool vnni = kernels::IsaSupported(kernels::CpuFeatures(), kernels::IsaLevel::kAvx512Vnni);
  ThreadPool pool(o.threads);
  double bw = 0, peak_int8 = 1;
  if (Wants(o, "bandwidth") || Wants(o, "decode")) {
    for (int th : {1, 2}) {
      ThreadPool p(th);
      const double b = Bandwidth(p, int64_t{1} << 30, o.reps);
      std::printf("bandwidth threads=%d bytes=1GiB streaming_read_GB/s=%.2f\n", th, b);
      if (th == o.threads) bw = b;
    }
    if (bw == 0) bw = Bandwidth(pool, int64_t{1} << 30, o.reps);
  }
  if (vnni && (Wants(o, "peak") || Wants(o, "prefill"))) {
    for (int th : {1, 2}) {
      ThreadPool p(th);
      const double f = Peak(p, FmaF32Probe), d = Peak(p, DpbusdProbe);
      std::printf("peak threads=%d fma_f32_GFLOP/s=%.0f vpdpbusd_int8_GOP/s=%.0f\n", th, f / 1e9,
                  d / 1e9);
      if (th == o.threads) peak_int8 = d / 1e9;
    }
  }
  std::fflush(stdout);
  if (Wants(o, "decode")) RunDecode(*kt, pool, o, bw);
  if (Wants(o, "batch")) RunBatch(*kt, pool, o);
  if (Wants(o, "prefill")) RunPrefill(*kt, pool, o, peak_int8);
  return 0;
}

}  // namespace
}  // namespace cachet::bench

int main(int argc, char** argv) { return cachet::bench::Main(argc, argv); }
