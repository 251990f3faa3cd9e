// Packed weight layouts (KernelTable::pack_weight, MatmulParams::w_packed) against the scalar
// reference, for every table this CPU runs that packs. Bound (avx512_packed.h): the activations
// are rounded to int8 with one scale d_b = max|x|/127 per 32 values, so
// |y - ref| <= sum_b d_b/2 * sum_{k in b} |w_k| + 1e-5 * sum |w x|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/env.h"
#include "kernels/kernels.h"
#include "kernels/packed_arena.h"

namespace cachet::kernels {
namespace {

std::vector<float> Randn(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

struct Aligned {
  explicit Aligned(size_t n)
      : p(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64))) {}
  ~Aligned() { std::free(p); }
  uint8_t* p;
};

class Packed : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kt_ = KernelsFor(GetParam());
    if (kt_ == nullptr) GTEST_SKIP() << GetParam() << " not supported on this CPU";
    if (kt_->pack_weight == nullptr) GTEST_SKIP() << GetParam() << " has no packed layout";
  }
  // A weight [n, k] of type t from seeded normal values, and its packed form.
  void MakeWeight(int64_t n, int64_t k, uint32_t seed, DType t = DType::kQ8_0) {
    t_ = t;
    rb_ = RowBytes(t, k);
    const auto wf = Randn(n * k, seed);
    w_.assign(n * rb_, 0);
    for (int64_t r = 0; r < n; ++r) ASSERT_TRUE(QuantizeRow(t, &wf[r * k], &w_[r * rb_], k).ok());
    const size_t bytes = kt_->packed_bytes(t, n, k);
    const int64_t tiles = (n + 15) / 16;  // a short last tile is padded with zero rows
    if (t == DType::kQ8_0) {
      ASSERT_EQ(bytes, static_cast<size_t>(tiles * 16 * rb_));  // same bytes per weight as q8_0
    } else {
      ASSERT_EQ(bytes, static_cast<size_t>(tiles * (k / 256) * 2368));  // q4_k: +2.8%
    }
    packed_ = std::make_unique<Aligned>(bytes);
    ThreadPool pool(2);
    kt_->pack_weight(t, w_.data(), n, k, packed_->p, &pool);
  }
  MatmulParams Params(const float* x, float* y, int64_t m, int64_t n, int64_t k, int64_t ldx,
                      int64_t ldy, bool acc) const {
    MatmulParams p{t_, w_.data(), x, y, m, n, k, ldx, ldy, acc};
    p.w_packed = packed_->p;
    return p;
  }
  DType t_ = DType::kQ8_0;
  const KernelTable* kt_ = nullptr;
  int64_t rb_ = 0;
  std::vector<uint8_t> w_;
  std::unique_ptr<Aligned> packed_;
};

TEST_P(Packed, MatchesRefWithinActivationRoundingBound) {
  using Case = std::tuple<DType, int64_t, int64_t, int64_t>;
  const DType q8 = DType::kQ8_0, q4 = DType::kQ4_K;
  for (auto [T, M, N, K] : {Case{q8, 1, 16, 32},
                            {q8, 2, 64, 96},
                            {q8, 3, 80, 512},
                            {q8, 7, 48, 256},
                            {q8, 15, 32, 64},
                            {q8, 70, 48, 128},
                            {q4, 1, 16, 256},
                            {q4, 2, 64, 512},
                            {q4, 5, 48, 256},
                            {q4, 19, 80, 768},
                            {q8, 1, 40, 64},
                            {q8, 9, 72, 96},
                            {q8, 3, 8, 32},
                            {q4, 1, 24, 256},
                            {q4, 7, 100, 512},
                            {q4, 9, 40, 256},     // one super-block on the AMX path
                            {q8, 33, 24, 32}}) {  // one block, three row groups
    for (bool acc : {false, true}) {
      SCOPED_TRACE(std::string(DTypeName(T)) + " M=" + std::to_string(M) + " N=" +
                   std::to_string(N) + " K=" + std::to_string(K) + " acc=" + std::to_string(acc));
      MakeWeight(N, K, 31, T);
      const int64_t ldx = K + 5, ldy = N + 3;
      auto x = Randn(M * ldx, 32);
      x[3] = 11.0f;  // an outlier sets its block's scale
      std::vector<float> y(M * ldy, 0.5f), yr(M * ldy, 0.5f);
      ThreadPool pool(2);
      MatmulParams p = Params(x.data(), y.data(), M, N, K, ldx, ldy, acc);
      kt_->matmul(p, &pool);
      p.y = yr.data();
      p.w_packed = nullptr;
      RefKernels().matmul(p, nullptr);
      std::vector<float> row(K);
      for (int64_t n = 0; n < N; ++n) {
        RefKernels().dequantize_row(T, &w_[n * rb_], row.data(), K);
        for (int64_t m = 0; m < M; ++m) {
          double bound = 0, sabs = 0;
          const int64_t g = T == DType::kQ4_K ? 256 : 32;  // activation values per scale
          for (int64_t b = 0; b < K; b += g) {
            double amax = 0, wsum = 0;
            for (int64_t i = b; i < b + g; ++i) {
              amax = std::max(amax, std::fabs(static_cast<double>(x[m * ldx + i])));
              wsum += std::fabs(row[i]);
              sabs += std::fabs(row[i] * x[m * ldx + i]);
            }
            bound += amax / 127.0 / 2.0 * wsum;
          }
          bound += 1e-5 * sabs + 1e-6;
          ASSERT_NEAR(y[m * ldy + n], yr[m * ldy + n], bound) << "m=" << m << " n=" << n;
        }
      }
      // Padding between rows (and past a short last tile) is untouched.
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t c = N; c < ldy; ++c) ASSERT_EQ(y[m * ldy + c], 0.5f);
      }
    }
  }
}

// The serving engine's determinism: each row's result is bitwise the same alone (M = 1, the
// decode path) or among 16 or 40 rows (batched decode, prefill), on 1 or 2 threads.
TEST_P(Packed, RowsDoNotDependOnBatchSize) {
  for (auto [T, K] : {std::pair<DType, int64_t>{DType::kQ8_0, 320}, {DType::kQ4_K, 512}}) {
    SCOPED_TRACE(DTypeName(T));
    const int64_t N = 88;  // five full tiles and a short one
    MakeWeight(N, K, 41, T);
    for (int64_t M : {2, 16, 40}) {
      const auto x = Randn(M * K, 42);
      std::vector<float> batched(M * N), alone(N);
      ThreadPool pool2(2), pool1(1);
      kt_->matmul(Params(x.data(), batched.data(), M, N, K, K, N, false), &pool2);
      for (int64_t m = 0; m < M; ++m) {
        kt_->matmul(Params(&x[m * K], alone.data(), 1, N, K, K, N, false), m % 2 ? &pool1 : &pool2);
        for (int64_t n = 0; n < N; ++n) {
          ASSERT_EQ(batched[m * N + n], alone[n]) << "M=" << M << " m=" << m << " n=" << n;
        }
      }
    }
  }
}

// The AMX table runs AMX int8 tiles from M = 8 and the VNNI kernel below: the two must agree
// bitwise (exact int32 block sums, the same f32 steps), including padded partial tiles.
TEST_P(Packed, AmxTilesEqualVnniBitwise) {
  if (kt_->isa != "amx") GTEST_SKIP() << "compares the amx table with avx512_vnni";
  const KernelTable* vnni = KernelsFor("avx512_vnni");
  ASSERT_NE(vnni, nullptr);
  // N = 40: a pair of tiles and a short single one; N = 24: a pair whose second tile is short,
  // with an odd number of blocks (K = 96). With one thread the q4_k pipeline runs across tile
  // boundaries (the next tile's first expansion, the previous tile's last fold).
  using Case = std::tuple<DType, int64_t, int64_t>;
  for (auto [T, N, K] : {Case{DType::kQ8_0, 40, 256},
                         {DType::kQ8_0, 24, 96},
                         {DType::kQ4_K, 40, 768},
                         {DType::kQ4_K, 24, 512}}) {
    MakeWeight(N, K, 51, T);
    // Each table multiplies its own layout (the amx table stores q8_0 quants signed).
    Aligned vp(vnni->packed_bytes(T, N, K));
    {
      ThreadPool pool(2);
      vnni->pack_weight(T, w_.data(), N, K, vp.p, &pool);
    }
    // M < 8 runs the amx table's VNNI kernel over the signed layout, M >= 8 its AMX tiles.
    // One thread takes every tile in one range (2 threads take small chunks of tiles).
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      for (int64_t M : {1, 3, 8, 16, 17, 40, 70}) {
        for (bool acc : {false, true}) {
          auto x = Randn(M * K, 52);
          x[7 % (M * K)] = -13.0f;
          std::vector<float> ya(M * N, 0.25f), yv(M * N, 0.25f);
          kt_->matmul(Params(x.data(), ya.data(), M, N, K, K, N, acc), &pool);
          MatmulParams pv = Params(x.data(), yv.data(), M, N, K, K, N, acc);
          pv.w_packed = vp.p;
          vnni->matmul(pv, &pool);
          for (int64_t i = 0; i < M * N; ++i) {
            ASSERT_EQ(ya[i], yv[i]) << "N=" << N << " K=" << K << " M=" << M << " i=" << i
                                    << " threads=" << threads;
          }
        }
      }
    }
  }
}

TEST_P(Packed, RefusesShapesAndTypesWithoutLayout) {
  EXPECT_EQ(kt_->packed_bytes(DType::kQ8_0, 8, 64), 16u * 2 * 34);  // one zero-padded tile
  EXPECT_EQ(kt_->packed_bytes(DType::kQ8_0, 32, 48), 0u);           // k not a multiple of 32
  EXPECT_EQ(kt_->packed_bytes(DType::kQ4_K, 32, 128), 0u);          // k not a multiple of 256
  EXPECT_EQ(kt_->packed_bytes(DType::kQ6_K, 32, 256), 0u);          // no layout for this type
  EXPECT_EQ(kt_->packed_bytes(DType::kF32, 32, 256), 0u);
  EXPECT_EQ(kt_->packed_bytes(DType::kQ8_0, 32, 64), 32u * 2 * 34);
}

// A slice of rows of a packed stack (an MoE expert) is addressed in place when it starts a row
// group, and gives bitwise the rows of that slice packed on their own.
TEST_P(Packed, RowSlicesOfAPackedWeight) {
  for (DType T : {DType::kQ8_0, DType::kQ4_K}) {
    SCOPED_TRACE(DTypeName(T));
    const int64_t N = 56, K = 256, row0 = 16, rows = 28;
    MakeWeight(N, K, 61, T);
    EXPECT_EQ(PackedRows(*kt_, T, packed_->p, K, 8), nullptr);  // not a group boundary
    const void* slice = PackedRows(*kt_, T, packed_->p, K, row0);
    ASSERT_NE(slice, nullptr);
    Aligned own(kt_->packed_bytes(T, rows, K));
    ThreadPool pool(2);
    kt_->pack_weight(T, &w_[row0 * rb_], rows, K, own.p, &pool);
    for (int64_t M : {1, 9}) {
      const auto x = Randn(M * K, 62);
      std::vector<float> a(M * rows), b(M * rows);
      MatmulParams p{T, &w_[row0 * rb_], x.data(), a.data(), M, rows, K, K, rows, false};
      p.w_packed = slice;
      kt_->matmul(p, &pool);
      p.y = b.data();
      p.w_packed = own.p;
      kt_->matmul(p, &pool);
      for (int64_t i = 0; i < M * rows; ++i) ASSERT_EQ(a[i], b[i]) << "M=" << M << " i=" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, Packed, ::testing::Values("avx512_vnni", "amx"),
                         [](const auto& info) { return info.param; });

// Dropping the pages of packed sources keeps a file mapping's bytes intact: they are read back
// from the file on the next access.
TEST(PackedTables, ReleasedFileSourcesReadBackUnchanged) {
  const std::string path = ::testing::TempDir() + "/cachet_release_test.bin";
  const int64_t n = 64, k = 1024, bytes = n * RowBytes(DType::kQ8_0, k);
  std::string data(static_cast<size_t>(bytes), '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131 + 7) % 251);
  {
    auto f = Env::Default()->NewWritableFile(path);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  auto m = Env::Default()->MapFile(path);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->file_backed());
  const void* out = m->data();  // any non-null: "this request was packed"
  const PackRequest req{DType::kQ8_0, m->data(), n, k, &out, /*release_source=*/true};
  ReleasePackedSources({&req, 1});
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(m->data()), data.size()), data);
  // Heap bytes are never released unless the request says so (it would zero them).
  std::vector<uint8_t> heap(data.begin(), data.end());
  const PackRequest heap_req{DType::kQ8_0, heap.data(), n, k, &out};
  ReleasePackedSources({&heap_req, 1});
  ASSERT_EQ(std::string(heap.begin(), heap.end()), data);
  std::remove(path.c_str());
}

TEST(PackedTables, TablesWithoutLayoutSayNothing) {
  EXPECT_EQ(RefKernels().packed_bytes, nullptr);
  EXPECT_EQ(RefKernels().pack_weight, nullptr);
}

}  // namespace
}  // namespace cachet::kernels
