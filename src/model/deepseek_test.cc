// deepseek2: hparams, router, MoE grouping, KV allocation, absorbed vs expanded MLA, batching.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.h"
#include "model/arch/deepseek2.h"
#include "model/compressor.h"
#include "model/dsa_indexer.h"
#include "model/hparams.h"
#include "model/mhc.h"
#include "model/mla_attention.h"
#include "model/model.h"
#include "model/moe.h"
#include "model/speculative.h"
#include "model/synthetic.h"
#include "model/weights.h"

namespace cachet::model {
namespace {

// Model-code tests run on the scalar reference kernels (see model_test.cc).
const bool kPinRefKernels = [] {
  setenv("CACHET_ISA", "ref", /*overwrite=*/0);
  return true;
}();

SyntheticModel Make(const std::string& preset, uint64_t seed = 1, DType type = DType::kF32) {
  auto sm = MakeSyntheticModel(*FindPreset(preset), type, seed, 0, nullptr);
  EXPECT_TRUE(sm.ok()) << sm.status().ToString();
  return std::move(sm).value();
}

std::shared_ptr<const ModelFile> File(const std::string& preset, DType type = DType::kF32) {
  return std::shared_ptr<const ModelFile>(InMemoryModelFile(Make(preset, 1, type)));
}

std::unique_ptr<Model> Load(std::shared_ptr<const ModelFile> f, MlaPath path = MlaPath::kAuto,
                            DType kv_type = DType::kF16) {
  DeepSeek2Options o;
  o.mla_path = path;
  o.kv_type = kv_type;
  auto m = LoadDeepSeek2(std::move(f), o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = (i * 37 + salt * 11 + 5) % 256;
  return v;
}

float MaxAbsDiff(const float* a, const float* b, int64_t n) {
  float worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

float MaxAbs(const float* a, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i]));
  return m;
}

// ---- hparams ----

TEST(DeepSeekHParamsTest, Ds3TinyKeys) {
  auto f = File("ds3-tiny");
  auto ds = ReadDeepSeekHParams(*f, "deepseek2");
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(ds->n_layer_all, 4);
  EXPECT_EQ(ds->n_mtp, 1);
  EXPECT_EQ(ds->base.n_layer, 3);
  EXPECT_EQ(ds->q_lora_rank, 96);
  EXPECT_EQ(ds->kv_lora_rank, 64);
  EXPECT_EQ(ds->qk_nope_dim, 32);
  EXPECT_EQ(ds->qk_rope_dim, 16);
  EXPECT_EQ(ds->v_head_dim, 32);
  EXPECT_EQ(ds->n_expert, 16);
  EXPECT_EQ(ds->n_expert_used, 4);
  EXPECT_EQ(ds->n_group, 4);
  EXPECT_EQ(ds->n_group_used, 2);
  EXPECT_EQ(ds->gating, ExpertGating::kSigmoid);
  EXPECT_TRUE(ds->weights_norm);
  EXPECT_FLOAT_EQ(ds->weights_scale, 2.5f);
  EXPECT_EQ(ds->base.rope_scaling, RopeScaling::kYarn);
  EXPECT_NEAR(ds->mscale_all_dim, 1.0f, 1e-6f);
}

TEST(DeepSeekHParamsTest, AttentionScaleMatchesSpecTable) {
  DeepSeekHParams ds;
  ds.qk_nope_dim = 128;
  ds.qk_rope_dim = 64;
  ds.base.rope_scaling = RopeScaling::kYarn;
  ds.base.rope_factor = 40.0f;
  ds.mscale_all_dim = 1.0f;  // V3
  EXPECT_NEAR(ds.attn_scale(), 0.1352338f, 2e-6f);
  ds.mscale_all_dim = 0.707f;  // V2 / V2-Lite
  EXPECT_NEAR(ds.attn_scale(), 0.1147214f, 2e-6f);
  ds.base.rope_scaling = RopeScaling::kNone;
  EXPECT_NEAR(ds.attn_scale(), 0.0721688f, 2e-6f);
}

TEST(DeepSeekHParamsTest, InconsistentGroupsRejected) {
  SyntheticModel sm = Make("ds3-tiny");
  for (auto& [k, v] : sm.meta) {
    if (k == "deepseek2.expert_group_count") v = uint32_t{3};  // 16 experts, 3 groups
  }
  auto ds = ReadDeepSeekHParams(*InMemoryModelFile(std::move(sm)), "deepseek2");
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("expert_group_count"), std::string::npos);
}

TEST(DeepSeekHParamsTest, LegacyFileReadsPlainKeyLengths) {
  auto ds = ReadDeepSeekHParams(*File("ds2-tiny-legacy"), "deepseek2");
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_TRUE(ds->legacy_kv_b);
  EXPECT_EQ(ds->qk_nope_dim, 32);
  EXPECT_EQ(ds->v_head_dim, 32);
  EXPECT_EQ(ds->base.n_head_kv, 1);  // cached as MLA whatever the file says
}

// A legacy file holding the same matrices as an MLA file (attn_kv_b = per head [W_UK ; W_UV])
// gives the same logits, on both paths, with the same latent-only cache.
TEST(DeepSeek2Test, LegacyKvBEqualsMlaSplit) {
  SyntheticModel mla = Make("ds2-tiny"), legacy = Make("ds2-tiny-legacy");
  const int64_t H = 4, dn = 32, dv = 32, rkv = 64;
  for (int64_t i = 0; i < 3; ++i) {
    const std::string pre = "blk." + std::to_string(i) + ".";
    const SyntheticTensor *kb = nullptr, *vb = nullptr;
    for (const auto& t : mla.tensors) {
      if (t.name == pre + "attn_k_b.weight") kb = &t;
      if (t.name == pre + "attn_v_b.weight") vb = &t;
    }
    ASSERT_TRUE(kb != nullptr && vb != nullptr);
    for (auto& t : legacy.tensors) {
      if (t.name != pre + "attn_kv_b.weight") continue;
      auto* dst = reinterpret_cast<float*>(t.data.data());
      const auto* k = reinterpret_cast<const float*>(kb->data.data());  // [H][rkv][dn]
      const auto* v = reinterpret_cast<const float*>(vb->data.data());  // [H][dv][rkv]
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t c = 0; c < rkv; ++c) {
          for (int64_t d = 0; d < dn; ++d)
            dst[(h * (dn + dv) + d) * rkv + c] = k[(h * rkv + c) * dn + d];
          for (int64_t j = 0; j < dv; ++j)
            dst[(h * (dn + dv) + dn + j) * rkv + c] = v[(h * dv + j) * rkv + c];
        }
      }
    }
  }
  // Every other tensor is generated from the same (seed, name), so it is identical.
  auto fm = std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(mla)));
  auto fl = std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(legacy)));
  auto toks = Prompt(70, 6);
  for (MlaPath path : {MlaPath::kAbsorbed, MlaPath::kExpanded}) {
    std::vector<float> out[2];
    int n = 0;
    for (const auto& f : {fm, fl}) {
      auto m = Load(f, path, DType::kF32);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->kv_layout().head_dim_k, 80);
      SequenceKv kv(m->kv_layout());
      ASSERT_TRUE(kv.Reserve(70).ok());
      SeqBatch b = MakeSeqBatch(kv, toks.data(), 70, 0);
      auto r = m->Forward({&b, 1}, nullptr);
      ASSERT_TRUE(r.ok());
      out[n++].assign(*r, *r + m->hparams().n_vocab);
    }
    EXPECT_LE(MaxAbsDiff(out[0].data(), out[1].data(), out[0].size()),
              1e-5f * MaxAbs(out[0].data(), out[0].size()));
  }
}

// ---- router ----

TEST(RouterTest, SoftmaxTopKWeightsAreUnnormalisedProbabilities) {
  RouterConfig c;
  c.n_expert = 4;
  c.n_used = 2;
  const float z[4] = {0.0f, 2.0f, 1.0f, -1.0f};
  int32_t ids[2];
  float w[2], scratch[8];
  RouteToken(c, z, ids, w, scratch);
  const double s = 1 + std::exp(2.0) + std::exp(1.0) + std::exp(-1.0);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 2);
  EXPECT_NEAR(w[0], std::exp(2.0) / s, 1e-6);
  EXPECT_NEAR(w[1], std::exp(1.0) / s, 1e-6);
}

TEST(RouterTest, BiasSelectsButDoesNotWeigh) {
  RouterConfig c;
  c.n_expert = 4;
  c.n_used = 2;
  c.gating = ExpertGating::kSigmoid;
  c.weights_norm = true;
  c.weights_scale = 2.5f;
  const float bias[4] = {0.0f, 0.0f, 0.0f, 1.0f};  // pulls expert 3 in
  c.bias = bias;
  const float z[4] = {0.5f, 2.0f, 1.0f, -1.0f};
  int32_t ids[2];
  float w[2], scratch[8];
  RouteToken(c, z, ids, w, scratch);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  EXPECT_EQ(ids[0], 3);  // 0.269 + 1 beats 0.881
  EXPECT_EQ(ids[1], 1);
  const double sum = sig(2.0) + sig(-1.0);
  EXPECT_NEAR(w[0], 2.5 * sig(-1.0) / sum, 1e-6);  // the unbiased score
  EXPECT_NEAR(w[1], 2.5 * sig(2.0) / sum, 1e-6);
}

TEST(RouterTest, GroupLimitedSelection) {
  // 8 experts in 4 groups of 2; keep 2 groups. Group scores without bias = group max.
  RouterConfig c;
  c.n_expert = 8;
  c.n_used = 3;
  c.n_group = 4;
  c.n_group_used = 2;
  c.gating = ExpertGating::kSigmoid;
  //                 g0          g1           g2          g3
  const float z[8] = {3.0f, -5.0f, 1.0f, 1.0f, 2.0f, -5.0f, 2.5f, 2.4f};
  int32_t ids[3];
  float w[3], scratch[16];
  RouteToken(c, z, ids, w, scratch);
  // Max scores: g0 3.0, g3 2.5, g2 2.0, g1 1.0 -> groups 0 and 3: experts 0, 6, 7.
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[1], 6);
  EXPECT_EQ(ids[2], 7);
  // With a (zero) bias the group score is the top-2 sum: g3 1.841, g1 1.462, g0 0.959, g2 0.887,
  // so groups 3 and 1 are kept: experts 6, 7 and then 2 (the 2/3 tie goes to the lower id).
  const float zero[8] = {};
  c.bias = zero;
  RouteToken(c, z, ids, w, scratch);
  EXPECT_EQ(ids[0], 6);
  EXPECT_EQ(ids[1], 7);
  EXPECT_EQ(ids[2], 2);
}

// ---- MoE execution: grouped by expert == per-token naive sum ----

TEST(MoeTest, GroupedExecutionEqualsPerTokenSum) {
  auto f = File("ds3-tiny");
  auto ds = ReadDeepSeekHParams(*f, "deepseek2");
  ASSERT_TRUE(ds.ok());
  WeightLoader wl(*f);
  const int64_t d = ds->base.n_embd, E = ds->n_expert, ff = ds->n_ff_exp;
  const int64_t fs = ff * ds->n_expert_shared;
  MoeWeights w;
  w.router = *wl.Matrix("blk.1.ffn_gate_inp.weight", d, E);
  w.bias = *wl.Vector("blk.1.exp_probs_b.bias", E);
  w.gate_exps = *wl.Matrix3("blk.1.ffn_gate_exps.weight", d, ff, E);
  w.up_exps = *wl.Matrix3("blk.1.ffn_up_exps.weight", d, ff, E);
  w.down_exps = *wl.Matrix3("blk.1.ffn_down_exps.weight", ff, d, E);
  w.gate_shexp = *wl.Matrix("blk.1.ffn_gate_shexp.weight", d, fs);
  w.up_shexp = *wl.Matrix("blk.1.ffn_up_shexp.weight", d, fs);
  w.down_shexp = *wl.Matrix("blk.1.ffn_down_shexp.weight", fs, d);
  RouterConfig c;
  c.n_expert = E;
  c.n_used = ds->n_expert_used;
  c.n_group = ds->n_group;
  c.n_group_used = ds->n_group_used;
  c.gating = ds->gating;
  c.weights_norm = ds->weights_norm;
  c.weights_scale = ds->weights_scale;
  const int64_t T = 9;
  std::vector<float> h(T * d);
  for (int64_t i = 0; i < T * d; ++i) h[i] = std::sin(0.37f * i) * 1.3f;
  std::vector<float> x(T * d, 0.5f);
  MoeFfn moe(c, d, ff);
  const auto& k = kernels::Kernels();
  moe.Run(w, h.data(), T, x.data(), k, nullptr);
  // The expert-parallel branch (a pool and few slots) gives the same sums in the same order.
  std::vector<float> xp(T * d, 0.5f);
  ThreadPool pool(2);
  MoeFfn moe_p(c, d, ff);
  moe_p.Run(w, h.data(), T, xp.data(), k, &pool);
  EXPECT_EQ(MaxAbsDiff(x.data(), xp.data(), T * d), 0.0f);
  // Naive: per token, dequantized f32 math in double.
  auto row = [&](const Weight& m, int64_t r, std::vector<float>& buf) {
    buf.resize(m.k);
    k.dequantize_row(m.type, static_cast<const uint8_t*>(m.data) + r * RowBytes(m.type, m.k),
                     buf.data(), m.k);
  };
  auto ffn = [&](const Weight& g, const Weight& u, const Weight& dn, int64_t e, int64_t width,
                 const float* in, std::vector<double>& out) {
    std::vector<float> buf;
    std::vector<float> z(width);
    for (int64_t j = 0; j < width; ++j) {
      double a = 0, b = 0;
      row(g, e * width + j, buf);
      for (int64_t i = 0; i < d; ++i) a += buf[i] * in[i];
      row(u, e * width + j, buf);
      for (int64_t i = 0; i < d; ++i) b += buf[i] * in[i];
      z[j] = static_cast<float>(a / (1 + std::exp(-a)) * b);
    }
    out.assign(d, 0.0);
    for (int64_t i = 0; i < d; ++i) {
      row(dn, e * d + i, buf);
      for (int64_t j = 0; j < width; ++j) out[i] += buf[j] * z[j];
    }
  };
  int distinct = 0;
  std::vector<bool> seen(E, false);
  for (int64_t t = 0; t < T; ++t) {
    const float* ht = h.data() + t * d;
    std::vector<float> logits(E), scratch(2 * E), wt(c.n_used);
    std::vector<int32_t> ids(c.n_used);
    std::vector<float> buf;
    for (int64_t e = 0; e < E; ++e) {
      row(w.router, e, buf);
      double s = 0;
      for (int64_t i = 0; i < d; ++i) s += buf[i] * ht[i];
      logits[e] = static_cast<float>(s);
    }
    c.bias = w.bias.data;
    RouteToken(c, logits.data(), ids.data(), wt.data(), scratch.data());
    std::vector<double> want(d, 0.5), y;
    for (int64_t s = 0; s < c.n_used; ++s) {
      EXPECT_EQ(ids[s], moe.last_ids()[t * c.n_used + s]);
      if (!seen[ids[s]]) ++distinct;
      seen[ids[s]] = true;
      ffn(w.gate_exps, w.up_exps, w.down_exps, ids[s], ff, ht, y);
      for (int64_t i = 0; i < d; ++i) want[i] += wt[s] * y[i];
    }
    ffn(w.gate_shexp, w.up_shexp, w.down_shexp, 0, fs, ht, y);
    for (int64_t i = 0; i < d; ++i) want[i] += y[i];
    for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(x[t * d + i], want[i], 1e-4) << t << "," << i;
  }
  EXPECT_GE(distinct, 6);  // the 9 tokens spread over several experts (grouping exercised)
}

// ---- model ----

TEST(DeepSeek2Test, KvLayoutStoresLatentPlusRopeKey) {
  auto m = Load(File("ds2-tiny"));
  ASSERT_NE(m, nullptr);
  const KvLayout kv = m->kv_layout();
  EXPECT_EQ(kv.n_layer, 3);
  EXPECT_EQ(kv.n_kv_heads, 1);
  EXPECT_EQ(kv.head_dim_k, 64 + 16);
  EXPECT_EQ(kv.head_dim_v, 0);
  EXPECT_EQ(kv.bytes_per_token(), (64 + 16) * 3 * 2);  // (r_kv + r) x layers x f16
  // The real allocation: one block per layer of block_tokens rows of (r_kv + r) f16, no V.
  SequenceKv store(kv);
  ASSERT_TRUE(store.Reserve(100).ok());
  EXPECT_EQ(store.n_blocks(), 2);
  EXPECT_EQ(kv.k_block_bytes(), 64 * 80 * 2);
  EXPECT_EQ(kv.v_block_bytes(), 0);
  for (int64_t i = 0; i < kv.n_layer * store.n_blocks(); ++i) {
    EXPECT_NE(store.k_blocks()[i], nullptr);
    EXPECT_EQ(store.v_blocks()[i], nullptr);
  }
  // Forward writes exactly the latent rows: after a 70-token prefill, row 69 of layer 2 is set
  // and row 70 still holds the fill pattern.
  for (int64_t i = 0; i < kv.n_layer * store.n_blocks(); ++i) {
    std::memset(store.k_blocks()[i], 0x7b, kv.k_block_bytes());
  }
  auto toks = Prompt(70, 1);
  SeqBatch b = MakeSeqBatch(store, toks.data(), 70, 0);
  ASSERT_TRUE(m->Forward({&b, 1}, nullptr).ok());
  const auto* blk = static_cast<const uint8_t*>(store.k_blocks()[2 * 2 + 1]);
  int written = 0, untouched = 0;
  for (int i = 0; i < 160; ++i) {
    written += blk[5 * 160 + i] != 0x7b;
    untouched += blk[6 * 160 + i] == 0x7b;
  }
  EXPECT_GT(written, 120);
  EXPECT_EQ(untouched, 160);
}

class PathTest : public ::testing::TestWithParam<std::string> {};

// The absorbed and the expanded paths over the same cache agree (f32 weights). With an f32
// cache they agree to f32 rounding; with the default f16 cache, a 1e-7 difference in a latent
// value can flip its f16 rounding (one f16 ulp = 5e-4 relative), so the bound is looser (the
// PyTorch reference computed in f32 instead of f64 moves these logits by ~1e-4 of max|logit|).
void CompareOverPaths(const std::string& preset, DType kv_type, float tol) {
  auto f = File(preset);
  auto ma = Load(f, MlaPath::kAbsorbed, kv_type), me = Load(f, MlaPath::kExpanded, kv_type);
  ASSERT_NE(ma, nullptr);
  ASSERT_NE(me, nullptr);
  const int64_t V = ma->hparams().n_vocab;
  auto toks = Prompt(75, 2);
  std::vector<float> la, le;
  for (auto* m : {ma.get(), me.get()}) {
    SequenceKv kv(m->kv_layout());
    ASSERT_TRUE(kv.Reserve(80).ok());
    // Prefill 70 (all logits), then 5 decode steps.
    SeqBatch b = MakeSeqBatch(kv, toks.data(), 70, 0, /*all_logits=*/true);
    auto r = m->Forward({&b, 1}, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<float>& out = m == ma.get() ? la : le;
    out.assign(*r, *r + 70 * V);
    for (int64_t p = 70; p < 75; ++p) {
      SeqBatch d = MakeSeqBatch(kv, toks.data() + p, 1, p);
      auto rd = m->Forward({&d, 1}, nullptr);
      ASSERT_TRUE(rd.ok());
      out.insert(out.end(), *rd, *rd + V);
    }
  }
  ASSERT_EQ(la.size(), le.size());
  const float scale = MaxAbs(la.data(), la.size());
  EXPECT_GT(scale, 0.1f);
  EXPECT_LE(MaxAbsDiff(la.data(), le.data(), la.size()), tol * scale) << preset;
}

TEST_P(PathTest, AbsorbedEqualsExpandedF32Cache) {
  CompareOverPaths(GetParam(), DType::kF32, 2e-6f);
}

TEST_P(PathTest, AbsorbedEqualsExpandedF16Cache) {
  CompareOverPaths(GetParam(), DType::kF16, 2e-4f);
}

// Chunked prefill + decode equals one prefill (the cache holds what attention needs), and a
// batch of sequences equals each alone: bitwise with the absorbed path everywhere (how files
// load, so that tokens never depend on chunking), within f32 rounding under the cost-based
// choice (CACHET_MLA_PATH=auto, which mixes the paths by chunk) with an f32 cache.
void CheckChunkedAndBatched(const std::string& preset, MlaPath path, DType cache, float tol) {
  SCOPED_TRACE(preset + (path == MlaPath::kAuto ? " auto" : " absorbed"));
  auto m = Load(File(preset), path, cache);
  ASSERT_NE(m, nullptr);
  const int64_t V = m->hparams().n_vocab;
  auto run_alone = [&](const std::vector<int32_t>& t) {
    SequenceKv kv(m->kv_layout());
    EXPECT_TRUE(kv.Reserve(t.size()).ok());
    SeqBatch b = MakeSeqBatch(kv, t.data(), t.size(), 0);
    auto r = m->Forward({&b, 1}, nullptr);
    EXPECT_TRUE(r.ok());
    return std::vector<float>(*r, *r + V);
  };
  auto toks = Prompt(90, 3);
  auto one = run_alone(toks);
  SequenceKv kv(m->kv_layout());
  ASSERT_TRUE(kv.Reserve(90).ok());
  const float* last = nullptr;
  for (int64_t p0 : {0, 30, 64, 89}) {  // chunks 30, 34, 25, 1
    const int64_t p1 = p0 == 0 ? 30 : p0 == 30 ? 64 : p0 == 64 ? 89 : 90;
    SeqBatch b = MakeSeqBatch(kv, toks.data() + p0, p1 - p0, p0);
    auto r = m->Forward({&b, 1}, nullptr);
    ASSERT_TRUE(r.ok());
    last = *r;
  }
  const float scale = MaxAbs(one.data(), V);
  EXPECT_LE(MaxAbsDiff(last, one.data(), V), tol * scale);

  std::vector<std::vector<int32_t>> prompts = {Prompt(5, 1), Prompt(70, 2), Prompt(1, 3)};
  std::vector<std::vector<float>> alone;
  for (const auto& p : prompts) alone.push_back(run_alone(p));
  std::vector<SequenceKv> kvs;
  std::vector<SeqBatch> batch;
  for (const auto& p : prompts) {
    kvs.emplace_back(m->kv_layout());
    ASSERT_TRUE(kvs.back().Reserve(p.size()).ok());
  }
  for (size_t s = 0; s < prompts.size(); ++s) {
    batch.push_back(MakeSeqBatch(kvs[s], prompts[s].data(), prompts[s].size(), 0));
  }
  ThreadPool pool(2);
  auto r = m->Forward(batch, &pool);
  ASSERT_TRUE(r.ok());
  for (size_t s = 0; s < prompts.size(); ++s) {
    EXPECT_LE(MaxAbsDiff(*r + s * V, alone[s].data(), V), tol * MaxAbs(alone[s].data(), V));
  }
  EXPECT_GT(MaxAbsDiff(*r, *r + V, V), 1e-3f);
}

TEST_P(PathTest, ChunkedAndBatchedEqualOneShot) {
  CheckChunkedAndBatched(GetParam(), MlaPath::kAbsorbed, DType::kF16, 0.0f);
  CheckChunkedAndBatched(GetParam(), MlaPath::kAuto, DType::kF32, 2e-5f);
}

INSTANTIATE_TEST_SUITE_P(Presets, PathTest, ::testing::Values("ds2-tiny", "ds3-tiny", "ds32-tiny"));

TEST(DeepSeek2Test, Q8AbsorbedCloseToExpanded) {
  auto f = File("ds3-tiny", DType::kQ8_0);
  auto ma = Load(f, MlaPath::kAbsorbed), me = Load(f, MlaPath::kExpanded);
  ASSERT_NE(ma, nullptr);
  const int64_t V = ma->hparams().n_vocab;
  auto toks = Prompt(24, 4);
  std::vector<float> out[2];
  int i = 0;
  for (auto* m : {ma.get(), me.get()}) {
    SequenceKv kv(m->kv_layout());
    ASSERT_TRUE(kv.Reserve(24).ok());
    SeqBatch b = MakeSeqBatch(kv, toks.data(), 24, 0);
    auto r = m->Forward({&b, 1}, nullptr);
    ASSERT_TRUE(r.ok());
    out[i++].assign(*r, *r + V);
  }
  // Same weights, same cache; only the order of the (exact, ref-kernel) products differs.
  EXPECT_LE(MaxAbsDiff(out[0].data(), out[1].data(), V), 2e-4f * MaxAbs(out[0].data(), V));
}

TEST(DeepSeek2Test, RegisteredAndRejectsBadInput) {
  auto m = LoadModel(File("ds3-tiny"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  SequenceKv kv((*m)->kv_layout());
  ASSERT_TRUE(kv.Reserve(4).ok());
  std::vector<int32_t> bad = {1, 2, 100000};
  SeqBatch b = MakeSeqBatch(kv, bad.data(), 3, 0);
  auto r = (*m)->Forward({&b, 1}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  std::vector<int32_t> toks = {1, 2, 3, 4, 5};
  SeqBatch over = MakeSeqBatch(kv, toks.data(), 5, 60);  // blocks cover 64 positions only
  EXPECT_FALSE((*m)->Forward({&over, 1}, nullptr).ok());
}

TEST(DeepSeek2Test, MissingTensorIsNamed) {
  SyntheticModel sm = Make("ds2-tiny");
  std::erase_if(sm.tensors, [](const auto& t) { return t.name == "blk.2.attn_k_b.weight"; });
  auto m = LoadDeepSeek2(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(sm))));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("blk.2.attn_k_b.weight"), std::string::npos);
}

TEST(MlaPathChoiceTest, DecodeAbsorbedLongChunkExpanded) {
  MlaDims d{16, 512, 64, 128, 128};
  EXPECT_FALSE(MlaUseExpanded(d, 1, 4096));
  EXPECT_FALSE(MlaUseExpanded(d, 64, 4096));  // below the ~171 cross-over
  EXPECT_TRUE(MlaUseExpanded(d, 512, 4096));
  EXPECT_TRUE(MlaUseExpanded(d, 100, 100));  // a fresh prompt: decompression is amortised
  EXPECT_FALSE(MlaUseExpanded(d, 512, int64_t{1} << 20));  // would not fit the scratch bound
}

}  // namespace
}  // namespace cachet::model
namespace cachet::model {
namespace {
// Dense MLA attention runs on the kernel table's attention (K = latent row, V = its first r_kv
// values, row stride r_kv + r): the reference table and this CPU's table against a double naive.
TEST(MlaAttentionTest, MatchesDoubleNaive) {
  for (const kernels::KernelTable* table : {&kernels::RefKernels(), &kernels::Kernels()}) {
  SCOPED_TRACE(std::string(table->isa));
  const int64_t nkv = 70, H = 4, rkv = 64, r = 16, dk = rkv + r, nq = 3;
  std::vector<float> q(nq * H * dk), kv(128 * dk), out(nq * H * rkv);
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.7 * i) * 2;
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = std::cos(0.31 * i + 0.2 * std::sin(i * 0.013));
  std::vector<int32_t> pos = {40, 55, 69};
  const void* blocks[2] = {kv.data(), kv.data() + 64 * dk};
  MlaAttentionParams p;
  p.q = q.data();
  p.out = out.data();
  p.q_pos = pos.data();
  p.blocks = blocks;
  p.kv_type = DType::kF32;
  p.n_q = nq;
  p.n_kv = nkv;
  p.block_tokens = 64;
  p.n_heads = H;
  p.kv_lora_rank = rkv;
  p.rope_dim = r;
  p.q_stride = H * dk;
  p.out_stride = H * rkv;
  p.scale = 0.23f;
  ThreadPool pool(2);
  MlaAttention(*table, p, &pool);
  double worst = 0;
  for (int64_t t = 0; t < nq; ++t)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> s(pos[t] + 1);
      double mx = -1e300, sum = 0;
      for (int j = 0; j <= pos[t]; ++j) {
        double d = 0;
        for (int i = 0; i < dk; ++i) d += double(q[(t * H + h) * dk + i]) * kv[j * dk + i];
        s[j] = d * 0.23f;
        mx = std::max(mx, s[j]);
      }
      for (auto& v : s) {
        v = std::exp(v - mx);
        sum += v;
      }
      for (int i = 0; i < rkv; ++i) {
        double o = 0;
        for (int j = 0; j <= pos[t]; ++j) o += s[j] * kv[j * dk + i];
        o /= sum;
        worst = std::max(worst, std::fabs(o - out[(t * H + h) * rkv + i]));
      }
    }
  EXPECT_LE(worst, 2e-6);
  }
}
}  // namespace
}  // namespace cachet::model

// ---- MTP speculative decoding ----
namespace cachet::model {
namespace {

struct SpecCase {
  std::unique_ptr<Model> m;
  std::vector<int32_t> prompt, greedy;
};

SpecCase MakeSpecCase(int64_t n_new) {
  SpecCase c;
  c.m = Load(File("ds3-tiny"), MlaPath::kAbsorbed);
  c.prompt = Prompt(12, 5);
  auto g = GreedyDecode(*c.m, c.prompt, n_new, nullptr);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  c.greedy = *g;
  return c;
}

TEST(SpeculativeTest, MtpDraftsGiveGreedyOutput) {
  SpecCase c = MakeSpecCase(20);
  for (int64_t k : {1, 3}) {
    SpecOptions o;
    o.draft_tokens = k;
    auto s = MtpSpeculator::Create(c.m.get(), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto out = (*s)->Generate(c.prompt, 20, nullptr);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*out, c.greedy) << "k=" << k;
    EXPECT_GT((*s)->stats().rounds, 0);
    EXPECT_EQ((*s)->stats().drafted, k * (*s)->stats().rounds);
  }
}

TEST(SpeculativeTest, AcceptedDraftsAreUsedAndRejectedOnesRolledBack) {
  const int64_t n = 24, P = 12;
  SpecCase c = MakeSpecCase(n);
  // Oracle drafts (the true greedy token) everywhere except every 5th position: rounds accept
  // several tokens at once and some reject mid-way, and the output must not change.
  SpecOptions o;
  o.draft_tokens = 3;
  o.draft_hook = [&](int64_t pos, int32_t drafted) {
    const int64_t i = pos - P;
    if (i < 0 || i >= n) return drafted;
    return pos % 5 == 0 ? (c.greedy[i] + 1) % 256 : c.greedy[i];
  };
  auto s = MtpSpeculator::Create(c.m.get(), o);
  ASSERT_TRUE(s.ok());
  auto out = (*s)->Generate(c.prompt, n, nullptr);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, c.greedy);
  const SpecStats& st = (*s)->stats();
  EXPECT_GT(st.acceptance(), 0.5);
  EXPECT_LT(st.acceptance(), 1.0);
  EXPECT_LT(st.rounds, n / 2);  // fewer trunk steps than tokens
}

TEST(SpeculativeTest, ModelWithoutMtpUnsupported) {
  auto m = Load(File("ds2-tiny"));
  auto s = MtpSpeculator::Create(m.get(), SpecOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace cachet::model

// ---- deepseek32: lightning indexer ----
namespace cachet::model {
namespace {

TEST(IndexerTest, SelectsTopKByReluWeightedScoreTiesToLowerPosition) {
  // 1 head of dim 2, keys chosen so the scores are known: q = (1, 0), w = 1.
  const int64_t n = 6;
  std::vector<float> keys = {0.5f, 0, -1, 0, 2, 0, -3, 0, 0.5f, 0, 1, 0};  // scores .5 0 2 0 .5 1
  const void* blocks[1] = {keys.data()};
  const int32_t pos[2] = {5, 2};
  int32_t sel[2 * 3], nsel[2];
  IndexerParams p;
  std::vector<float> q2 = {1, 0, 1, 0}, w2 = {1, 1};  // the same q and w for both queries
  p.q = q2.data();
  p.w = w2.data();
  p.q_pos = pos;
  p.blocks = blocks;
  p.kv_type = DType::kF32;
  p.n_q = 2;
  p.n_kv = n;
  p.block_tokens = 64;
  p.n_heads = 1;
  p.head_dim = 2;
  p.top_k = 3;
  p.sel = sel;
  p.n_sel = nsel;
  IndexerSelect(p, nullptr);
  EXPECT_EQ(nsel[0], 3);
  // Scores 0.5, 0, 2, 0 (ReLU), 0.5, 1: top-3 = {2, 5, and 0 (tie with 4 -> lower)}.
  EXPECT_EQ(std::vector<int32_t>(sel, sel + 3), (std::vector<int32_t>{0, 2, 5}));
  EXPECT_EQ(nsel[1], -1);  // 3 visible keys <= top_k: dense
}

SyntheticModel WithTopK(SyntheticModel sm, uint32_t k) {
  for (auto& [key, v] : sm.meta) {
    if (key == "deepseek32.attention.indexer.top_k") v = k;
  }
  return sm;
}

std::vector<float> LastLogits(Model& m, const std::vector<int32_t>& toks) {
  SequenceKv kv(m.kv_layout());
  EXPECT_TRUE(kv.Reserve(toks.size()).ok());
  SeqBatch b = MakeSeqBatch(kv, toks.data(), toks.size(), 0);
  auto r = m.Forward({&b, 1}, nullptr);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::vector<float>(*r, *r + m.hparams().n_vocab);
}

// With top_k above the context the indexer selects everything: deepseek32 == its deepseek2
// trunk (ds3-tiny has the same tensors by name, hence the same values). With top_k = 24 a
// 90-token prompt attends sparsely and the logits move.
TEST(DeepSeek32Test, DenseWhenTopKCoversContextSparseOtherwise) {
  auto dense32 =
      Load(std::shared_ptr<const ModelFile>(InMemoryModelFile(WithTopK(Make("ds32-tiny"), 1000))));
  auto sparse32 = Load(File("ds32-tiny"));
  auto ds3 = Load(File("ds3-tiny"));
  ASSERT_TRUE(dense32 && sparse32 && ds3);
  const KvLayout kv = sparse32->kv_layout();
  EXPECT_EQ(kv.head_dim_v, 32);  // the indexer key rides in the V rows
  EXPECT_EQ(kv.bytes_per_token(), (64 + 16 + 32) * 3 * 2);
  auto toks = Prompt(90, 7);
  auto a = LastLogits(*dense32, toks), b = LastLogits(*ds3, toks), c = LastLogits(*sparse32, toks);
  const float scale = MaxAbs(b.data(), b.size());
  EXPECT_LE(MaxAbsDiff(a.data(), b.data(), a.size()), 1e-6f * scale);
  EXPECT_GT(MaxAbsDiff(c.data(), b.data(), c.size()), 1e-3f * scale);
}

}  // namespace
}  // namespace cachet::model

// ---- deepseek4 routing pieces (C.9) ----
namespace cachet::model {
namespace {

TEST(RouterTest, SqrtSoftplusScoresAndHashRouting) {
  RouterConfig c;
  c.n_expert = 4;
  c.n_used = 2;
  c.gating = ExpertGating::kSqrtSoftplus;
  c.weights_norm = true;
  c.weights_scale = 1.5f;
  const float z[4] = {0.0f, 2.0f, -1.0f, 3.0f};
  auto sp = [](double v) { return std::sqrt(std::log1p(std::exp(v))); };
  int32_t ids[2];
  float w[2], scratch[8];
  RouteToken(c, z, ids, w, scratch);
  EXPECT_EQ(ids[0], 3);
  EXPECT_EQ(ids[1], 1);
  EXPECT_NEAR(w[0], 1.5 * sp(3) / (sp(3) + sp(2)), 1e-6);
  const int32_t forced[2] = {2, 0};  // hash routing: the table decides, scores only weigh
  RouteToken(c, z, ids, w, scratch, forced);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 0);
  EXPECT_NEAR(w[0], 1.5 * sp(-1) / (sp(-1) + sp(0)), 1e-6);
  EXPECT_NEAR(w[1], 1.5 * sp(0) / (sp(-1) + sp(0)), 1e-6);
}

TEST(MoeTest, ClampedSwigluClampsBeforeTheActivation) {
  const auto& k = kernels::Kernels();
  float g[3] = {10.0f, -10.0f, 0.5f}, u[3] = {-9.0f, 2.0f, 0.25f};
  ClampedSwiglu(k, g, u, 3, 7.0f);
  auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  EXPECT_NEAR(g[0], silu(7.0) * -7.0, 1e-5);   // gate min(10, 7), up clamp(-9) = -7
  EXPECT_NEAR(g[1], silu(-10.0) * 2.0, 1e-5);  // gate is only clamped from above
  EXPECT_NEAR(g[2], silu(0.5) * 0.25, 1e-6);
}

TEST(MoeTest, HashRoutingUsesTheTokenTable) {
  auto f = File("ds3-tiny");
  WeightLoader wl(*f);
  const int64_t d = 256, E = 16, ff = 128, K = 4;
  MoeWeights w;
  w.router = *wl.Matrix("blk.1.ffn_gate_inp.weight", d, E);
  w.gate_exps = *wl.Matrix3("blk.1.ffn_gate_exps.weight", d, ff, E);
  w.up_exps = *wl.Matrix3("blk.1.ffn_up_exps.weight", d, ff, E);
  w.down_exps = *wl.Matrix3("blk.1.ffn_down_exps.weight", ff, d, E);
  std::vector<int32_t> table = {3, 1, 4, 15, 9, 2, 6, 5, 99, 0, 1, 2};  // row 2 is corrupt
  w.tid2eid = table.data();
  w.tid2eid_vocab = 3;
  RouterConfig c;
  c.n_expert = E;
  c.n_used = K;
  c.gating = ExpertGating::kSqrtSoftplus;
  const int32_t tokens[4] = {1, 0, 7, 2};  // 7: outside the table; 2: bad row -> by score
  std::vector<float> h(4 * d), x(4 * d, 0.0f);
  for (size_t i = 0; i < h.size(); ++i) h[i] = std::cos(0.11f * i);
  MoeFfn moe(c, d, ff);
  moe.Run(w, h.data(), 4, x.data(), kernels::Kernels(), nullptr, tokens);
  const auto& ids = moe.last_ids();
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 4), (std::vector<int32_t>{9, 2, 6, 5}));
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 4, ids.begin() + 8),
            (std::vector<int32_t>{3, 1, 4, 15}));
  for (int64_t i = 8; i < 16; ++i) EXPECT_LT(ids[i], E);
  EXPECT_GT(MaxAbs(x.data(), x.size()), 0.0f);
}

}  // namespace
}  // namespace cachet::model

// ---- deepseek4 mHC building blocks (C.4) ----
namespace cachet::model {
namespace {

TEST(MhcTest, SinkhornOneRoundByHandAndConvergesToDoublyStochastic) {
  float c[4] = {0.0f, std::log(3.0f), 0.0f, 0.0f};
  Sinkhorn(c, 2, 1, 0.0f);  // row softmax [.25 .75; .5 .5], then columns / (.75, 1.25)
  EXPECT_NEAR(c[0], 1.0 / 3, 1e-6);
  EXPECT_NEAR(c[1], 0.6, 1e-6);
  EXPECT_NEAR(c[2], 2.0 / 3, 1e-6);
  EXPECT_NEAR(c[3], 0.4, 1e-6);
  float r[16];
  for (int i = 0; i < 16; ++i) r[i] = std::sin(1.7f * i) * 3.0f;
  Sinkhorn(r, 4, 20, 1e-6f);
  for (int a = 0; a < 4; ++a) {
    float row = 0, col = 0;
    for (int b = 0; b < 4; ++b) {
      row += r[a * 4 + b];
      col += r[b * 4 + a];
      EXPECT_GT(r[a * 4 + b], 0.0f);
    }
    EXPECT_NEAR(row, 1.0f, 2e-3f);
    EXPECT_NEAR(col, 1.0f, 1e-5f);
  }
}

TEST(MhcTest, PreAndPostFollowTheFormulas) {
  MhcDims m;
  m.d = 8;
  m.hc = 4;
  std::vector<float> x(32), fn(24 * 32, 0.0f), base(24), scale = {0.5f, 2.0f, 1.0f};
  for (int i = 0; i < 32; ++i) x[i] = std::cos(0.3f * i);
  for (int i = 0; i < 24; ++i) base[i] = 0.1f * (i % 7) - 0.3f;
  std::vector<float> u(8), post(4), c(16), u2(8), post2(4), c2(16);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  MhcPre(m, x.data(), fn.data(), base.data(), scale.data(), u.data(), post.data(), c.data());
  for (int i = 0; i < 8; ++i) {  // fn = 0: the mixing comes from the biases alone
    double want = 0;
    for (int s = 0; s < 4; ++s) want += (sig(base[s]) + 1e-6) * x[s * 8 + i];
    EXPECT_NEAR(u[i], want, 1e-5);
  }
  for (int s = 0; s < 4; ++s) EXPECT_NEAR(post[s], 2 * sig(base[4 + s]), 1e-6);
  // The projection sees x / rms(x): scaling x scales u and leaves post and c unchanged.
  for (int i = 0; i < 24 * 32; ++i) fn[i] = std::sin(0.05f * i) * 0.2f;
  MhcPre(m, x.data(), fn.data(), base.data(), scale.data(), u.data(), post.data(), c.data());
  std::vector<float> x10(x);
  for (float& v : x10) v *= 10.0f;
  MhcPre(m, x10.data(), fn.data(), base.data(), scale.data(), u2.data(), post2.data(), c2.data());
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(u2[i], 10.0f * u[i], 1e-4f);
  for (int s = 0; s < 4; ++s) EXPECT_NEAR(post2[s], post[s], 1e-5f);
  for (int j = 0; j < 16; ++j) EXPECT_NEAR(c2[j], c[j], 1e-5f);
  // Post: identity mixing and zero post keep the streams; zero mixing broadcasts y.
  std::vector<float> y(8, 2.0f), out(32), zero(4, 0.0f), ident(16, 0.0f), one(4, 1.0f);
  for (int a = 0; a < 4; ++a) ident[a * 4 + a] = 1.0f;
  MhcPost(m, y.data(), zero.data(), ident.data(), x.data(), out.data());
  EXPECT_EQ(MaxAbsDiff(out.data(), x.data(), 32), 0.0f);
  std::vector<float> zc(16, 0.0f);
  MhcPost(m, y.data(), one.data(), zc.data(), x.data(), out.data());
  for (float v : out) EXPECT_EQ(v, 2.0f);
}

}  // namespace
}  // namespace cachet::model

// ---- deepseek4 compressor (C.6) ----
namespace cachet::model {
namespace {

TEST(CompressorTest, HcaAndCsaPooling) {
  // HCA, R = 2, W = 2: channel 0 equal scores -> mean; channel 1 one score dominates.
  const float a[4] = {1.0f, 5.0f, 3.0f, 7.0f}, z[4] = {0.0f, 50.0f, 0.0f, 0.0f};
  float e[2];
  CompressBlock(2, 2, 1, nullptr, nullptr, a, z, e);
  EXPECT_NEAR(e[0], 2.0f, 1e-6f);
  EXPECT_NEAR(e[1], 5.0f, 1e-5f);
  // CSA, R = 2, W = 1: rows are [first half, second half]. Block 0: only its second halves.
  const float ac[4] = {100.0f, 1.0f, 200.0f, 3.0f}, zc[4] = {9.0f, 0.0f, 9.0f, 0.0f};
  CompressBlock(2, 1, 2, nullptr, nullptr, ac, zc, e);
  EXPECT_NEAR(e[0], 2.0f, 1e-6f);  // the large first halves of block 0 are not candidates
  // Block 1: previous block's FIRST halves (100, 200 with score 9) + its own second halves.
  const float an[4] = {0.0f, 10.0f, 0.0f, 20.0f}, zn[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  CompressBlock(2, 1, 2, ac, zc, an, zn, e);
  const double w9 = std::exp(9.0), w0 = 1.0;
  EXPECT_NEAR(e[0], (w9 * 100 + w9 * 200 + w0 * 10 + w0 * 20) / (2 * w9 + 2 * w0), 1e-3);
}

}  // namespace
}  // namespace cachet::model
