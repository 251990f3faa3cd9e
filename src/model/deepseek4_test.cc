// deepseek4: hparams validation, ds4-tiny loading, cache bytes, prefill vs decode, batching.
#include "model/arch/deepseek4.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "base/thread_pool.h"
#include "model/ds4_cache.h"
#include "model/ds4_hparams.h"
#include "model/model.h"
#include "model/sequence_runner.h"
#include "model/sequence_state.h"
#include "model/synthetic.h"

namespace cachet::model {
namespace {

const bool kPinRefKernels = [] {
  setenv("CACHET_ISA", "ref", /*overwrite=*/0);
  return true;
}();

SyntheticModel Make(DType type = DType::kF32) {
  auto sm = MakeSyntheticModel(*FindPreset("ds4-tiny"), type, 1, 0, nullptr);
  EXPECT_TRUE(sm.ok()) << sm.status().ToString();
  return std::move(sm).value();
}

std::unique_ptr<Model> Load(DType cache = DType::kF16, DType type = DType::kF32) {
  DeepSeek4Options o;
  o.cache_type = cache;
  auto m = LoadDeepSeek4(std::shared_ptr<const ModelFile>(InMemoryModelFile(Make(type))), o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

StatefulModel* Stateful(Model* m) { return dynamic_cast<StatefulModel*>(m); }

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = (i * 37 + salt * 11 + 5) % 261;
  return v;
}

// Logits for every position of `ids`, fed in chunks of `chunk` tokens.
std::vector<float> RunChunks(Model* m, const std::vector<int32_t>& ids, int64_t chunk,
                             ThreadPool* pool = nullptr) {
  StatefulModel* sm = Stateful(m);
  auto st = sm->NewState();
  EXPECT_TRUE(st.ok());
  const int64_t V = m->hparams().n_vocab, n = static_cast<int64_t>(ids.size());
  std::vector<float> out(n * V);
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t len = std::min(chunk, n - s);
    StateBatch b{st->get(), ids.data() + s, len, true};
    auto r = sm->ForwardState(std::span<const StateBatch>(&b, 1), pool);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    std::copy_n(*r, len * V, out.data() + s * V);
  }
  return out;
}

float MaxRel(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0, mx = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
    mx = std::max(mx, std::fabs(b[i]));
  }
  return worst / mx;
}

TEST(Ds4HParams, ReadsPreset) {
  auto f = InMemoryModelFile(Make());
  auto hp = ReadDeepSeek4HParams(*f);
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  EXPECT_EQ(hp->base.n_layer, 4);
  EXPECT_EQ(hp->ratios, (std::vector<int64_t>{0, 4, 128, 4}));
  EXPECT_EQ(hp->head_dim(), 64);
  EXPECT_EQ(hp->rope_dim(), 16);
  EXPECT_EQ(hp->n_hash, 2);
  EXPECT_EQ(hp->indexer_top_k, 8);
  EXPECT_FLOAT_EQ(hp->clamp_exp[3], 1.0f);
  EXPECT_FLOAT_EQ(hp->clamp_shexp[0], 1.5f);
  EXPECT_TRUE(hp->HasCsa());
}

// Edits one metadata key of ds4-tiny and returns the hparams error.
Status ReadWith(const std::string& key, MetaValue v) {
  SyntheticModel sm = Make();
  bool found = false;
  for (auto& [k, old] : sm.meta) {
    if (k == key) {
      old = v;
      found = true;
    }
  }
  if (!found) sm.meta.emplace_back(key, v);
  auto f = InMemoryModelFile(std::move(sm));
  return ReadDeepSeek4HParams(*f).status();
}

TEST(Ds4HParams, RejectsBadValues) {
  const std::string a = "deepseek4.";
  EXPECT_EQ(ReadWith(a + "attention.compress_ratios", std::vector<int32_t>{0, 4, 8, 4, 0}).code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(ReadWith(a + "attention.compress_ratios", std::vector<int32_t>{0, 4}).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "expert_gating_func", uint32_t{2}).code(), StatusCode::kUnsupported);
  EXPECT_EQ(ReadWith(a + "attention.head_count_kv", uint32_t{2}).code(), StatusCode::kUnsupported);
  EXPECT_EQ(ReadWith(a + "attention.output_group_count", uint32_t{3}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "rope.dimension_count", uint32_t{15}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "hash_layer_count", uint32_t{5}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "swiglu_clamp_exp", std::vector<float>{1.0f}).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "expert_weights_norm", uint32_t{1}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "attention.indexer.key_length", uint32_t{8}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadWith(a + "nextn_predict_layers", uint32_t{4}).code(), StatusCode::kCorrupt);
}

TEST(Ds4Load, MissingOrMisshapenTensorIsNamed) {
  SyntheticModel sm = Make();
  for (auto& t : sm.tensors) {
    if (t.name == "blk.2.attn_compressor_ape.weight") t.ne = {64, 64};  // R = 128 expected
  }
  auto m = LoadDeepSeek4(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(sm))));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("blk.2.attn_compressor_ape.weight"), std::string::npos);
  SyntheticModel sm2 = Make();
  std::erase_if(sm2.tensors,
                [](const SyntheticTensor& t) { return t.name == "blk.0.ffn_gate_tid2eid.weight"; });
  auto m2 = LoadDeepSeek4(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(sm2))));
  ASSERT_FALSE(m2.ok());
  EXPECT_NE(m2.status().message().find("tid2eid"), std::string::npos);
}

// The engine's paged call without the sequence's state is a clear error, not a crash.
TEST(Ds4Load, PagedForwardWithoutStateIsRefusedClearly) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  SequenceKv kv(m->kv_layout());
  ASSERT_TRUE(kv.Reserve(4).ok());
  std::vector<int32_t> ids = Prompt(4, 1);
  SeqBatch b = MakeSeqBatch(kv, ids.data(), 4, 0);
  auto r = m->Forward(std::span<const SeqBatch>(&b, 1), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("SeqBatch::state"), std::string::npos);
  auto owned = Stateful(m.get())->NewState();  // an unpaged state does not fit either
  b.state = owned->get();
  EXPECT_EQ(m->Forward(std::span<const SeqBatch>(&b, 1), nullptr).status().code(),
            StatusCode::kInvalidArgument);
  auto paged = Stateful(m.get())->NewPagedState();
  b.state = paged->get();
  b.start_pos = 1;  // a state at 0 cannot serve a step at 1 (no rollback / skip)
  EXPECT_EQ(m->Forward(std::span<const SeqBatch>(&b, 1), nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Ds4Paged, OtherModelsNeedNoState) {
  auto sm = MakeSyntheticModel(*FindPreset("llama-tiny"), DType::kF32, 1, 0, nullptr);
  ASSERT_TRUE(sm.ok());
  auto m = LoadModel(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(*sm))));
  ASSERT_TRUE(m.ok());
  auto st = NewPagedSequenceState(**m);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, nullptr);
}

// The paged form (entries in 64-token pool blocks, window + compressor state beside them) gives
// the same logits as the self-contained state, chunk by chunk, and its pool geometry is the
// documented one: per token sum_CSA (D + d_I) / 4 + sum_HCA D / 64 values.
TEST(Ds4Paged, MatchesStatefulAndPoolBytes) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  const KvLayout l = m->kv_layout();
  EXPECT_EQ(l.n_layer, 1);
  EXPECT_EQ(l.k_dim(), 2 * (64 + 32) / 4 + 64 / 64);
  EXPECT_EQ(l.v_dim(), 0);
  EXPECT_EQ(l.bytes_per_token(), 98);
  std::vector<int32_t> ids = Prompt(300, 7);
  const auto want = RunChunks(m.get(), ids, 300);
  SequenceKv kv(l);
  ASSERT_TRUE(kv.Reserve(300).ok());
  EXPECT_EQ(kv.n_blocks(), 5);
  auto st = NewPagedSequenceState(*m);  // what the engine would call
  ASSERT_TRUE(st.ok());
  ASSERT_NE(*st, nullptr);
  EXPECT_EQ((*st)->allocated_bytes(), Stateful(m.get())->kv_cost().fixed_bytes);
  const int64_t V = m->hparams().n_vocab;
  std::vector<float> got(300 * V);
  for (int64_t s = 0; s < 300; s += 64) {
    const int64_t len = std::min<int64_t>(64, 300 - s);
    SeqBatch b = MakeSeqBatch(kv, ids.data() + s, len, s, true);
    b.state = st->get();
    auto r = m->Forward(std::span<const SeqBatch>(&b, 1), nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::copy_n(*r, len * V, got.data() + s * V);
    kv.set_n_tokens(s + len);
  }
  EXPECT_EQ(MaxRel(got, want), 0.0f);
}

TEST(Ds4Load, BadInputsAreErrorsAndLeaveStateUnchanged) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  StatefulModel* sm = Stateful(m.get());
  auto st = sm->NewState();
  ASSERT_TRUE(st.ok());
  std::vector<int32_t> ids = {1, 2, 99999};
  StateBatch b{st->get(), ids.data(), 3, false};
  auto r = sm->ForwardState(std::span<const StateBatch>(&b, 1), nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*st)->n_tokens(), 0);
  StateBatch twice[2] = {{st->get(), ids.data(), 1, false}, {st->get(), ids.data(), 1, false}};
  EXPECT_FALSE(sm->ForwardState(twice, nullptr).ok());
  StateBatch none{nullptr, ids.data(), 1, false};
  EXPECT_FALSE(sm->ForwardState(std::span<const StateBatch>(&none, 1), nullptr).ok());
}

// The cache holds exactly what C.11 lists: its bytes follow FixedBytes + EntryBytes(n), and
// amortise to BytesPerToken (CSA (D + d_I) / 4, HCA D / 128 values per token, x 2 for f16).
TEST(Ds4Cache, AllocationMatchesFormula) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  StatefulModel* sm = Stateful(m.get());
  const StateKvCost cost = sm->kv_cost();
  // ds4-tiny: D 64, d_I 32, window 16, layers SWA CSA HCA CSA, f16.
  EXPECT_DOUBLE_EQ(cost.bytes_per_token, 2 * (2 * (64 + 32) / 4.0 + 64 / 128.0));
  const int64_t fixed = 4 * 16 * 64 * 2 + 2 * (8 * 4 * 64 * 4 + 8 * 4 * 32 * 4) + 128 * 2 * 64 * 4;
  EXPECT_EQ(cost.fixed_bytes, fixed);
  auto st = sm->NewState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)->allocated_bytes(), fixed);
  std::vector<int32_t> ids = Prompt(300, 2);
  StateBatch b{st->get(), ids.data(), 300, false};
  ASSERT_TRUE(sm->ForwardState(std::span<const StateBatch>(&b, 1), nullptr).ok());
  // 300 tokens: CSA 5 chunks of 16 entries x (64 + 32), HCA 3 chunks of one 64-entry.
  const int64_t entries = 2 * 5 * 16 * (64 + 32) * 2 + 3 * 64 * 2;
  EXPECT_EQ((*st)->allocated_bytes(), fixed + entries);
  const double per_token = static_cast<double>(entries) / 300;
  EXPECT_NEAR(per_token, cost.bytes_per_token, 0.25 * cost.bytes_per_token);
}

// Logits of position t are the same whether computed in one prefill, in chunks, or one token
// at a time (the compressor state, window ring and entries carry across calls).
TEST(Ds4Forward, PrefillMatchesIncrementalDecode) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  std::vector<int32_t> ids = Prompt(150, 3);
  const auto whole = RunChunks(m.get(), ids, 150);
  const auto chunks = RunChunks(m.get(), ids, 37);
  const auto tokens = RunChunks(m.get(), ids, 1);
  EXPECT_LT(MaxRel(chunks, whole), 1e-5);
  EXPECT_LT(MaxRel(tokens, whole), 1e-5);
}

// Queries split over a thread pool (attention, compressors stay sequential) change nothing.
TEST(Ds4Forward, ThreadPoolGivesTheSameLogits) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  std::vector<int32_t> ids = Prompt(140, 8);
  ThreadPool pool(3);
  const auto one = RunChunks(m.get(), ids, 70);
  const auto three = RunChunks(m.get(), ids, 70, &pool);
  EXPECT_EQ(MaxRel(three, one), 0.0f);
}

// Two sequences in one step give the same logits as each alone.
TEST(Ds4Forward, BatchedEqualsSeparate) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  StatefulModel* sm = Stateful(m.get());
  std::vector<int32_t> a = Prompt(40, 4), b = Prompt(70, 5);
  const auto la = RunChunks(m.get(), a, 40), lb = RunChunks(m.get(), b, 70);
  auto sa = sm->NewState(), sb = sm->NewState();
  StateBatch both[2] = {{sa->get(), a.data(), 40, false}, {sb->get(), b.data(), 70, false}};
  auto r = sm->ForwardState(both, nullptr);
  ASSERT_TRUE(r.ok());
  const int64_t V = m->hparams().n_vocab;
  std::vector<float> ra(*r, *r + V), rb(*r + V, *r + 2 * V);
  std::vector<float> ea(la.end() - V, la.end()), eb(lb.end() - V, lb.end());
  EXPECT_LT(MaxRel(ra, ea), 1e-5);
  EXPECT_LT(MaxRel(rb, eb), 1e-5);
}

// The window and compressed entries matter: changing a token far outside the window changes
// the last logits (through the compressed entries), and logits are finite.
TEST(Ds4Forward, DistantTokensReachThroughCompressedEntries) {
  auto m = Load();
  ASSERT_NE(m, nullptr);
  std::vector<int32_t> ids = Prompt(200, 6);
  auto base = RunChunks(m.get(), ids, 200);
  ids[5] = (ids[5] + 1) % 261;
  auto changed = RunChunks(m.get(), ids, 200);
  const int64_t V = m->hparams().n_vocab;
  std::vector<float> lb(base.end() - V, base.end()), lc(changed.end() - V, changed.end());
  for (float v : lb) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(MaxRel(lc, lb), 1e-6);
}

}  // namespace
}  // namespace cachet::model
