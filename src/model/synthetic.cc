#include "model/synthetic.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "kernels/kernels.h"

namespace cachet::model {
namespace {

constexpr double kPi = 3.14159265358979323846;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1) from a 64-bit counter stream.
struct RowRng {
  uint64_t state;
  float Next() {
    state = Mix(state);
    return static_cast<float>(static_cast<double>(state >> 40) * 0x1.0p-23 - 1.0);
  }
};

enum class Init { kMatrix, kNorm, kBias, kMatrixF32 };

class Builder {
 public:
  Builder(DType type, uint64_t seed, ThreadPool* pool) : type_(type), seed_(seed), pool_(pool) {}

  Status Add(const std::string& name, std::vector<int64_t> ne, Init init) {
    const int64_t k = ne[0];
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    const DType t = init == Init::kMatrix ? FallbackType(type_, k) : DType::kF32;
    const bool matrix = init == Init::kMatrix || init == Init::kMatrixF32;
    const int64_t row_bytes = RowBytes(t, k);
    SyntheticTensor st{name, t, ne, std::vector<uint8_t>(row_bytes * rows)};
    const float scale = matrix ? std::sqrt(3.0f / static_cast<float>(k)) : 0.1f;
    const float offset = init == Init::kNorm ? 1.0f : 0.0f;
    const uint64_t tensor_seed = Mix(seed_ ^ Mix(std::hash<std::string>{}(name) ^ 0x5eedull));
    std::atomic<bool> failed{false};
    auto work = [&](int64_t begin, int64_t end) {
      std::vector<float> buf(k);
      for (int64_t r = begin; r < end; ++r) {
        RowRng rng{tensor_seed ^ Mix(static_cast<uint64_t>(r))};
        for (int64_t i = 0; i < k; ++i) buf[i] = offset + scale * rng.Next();
        Status s = kernels::QuantizeRow(t, buf.data(), st.data.data() + r * row_bytes, k);
        if (!s.ok()) failed = true;
      }
    };
    if (pool_ != nullptr) {
      pool_->ParallelFor(rows, 16, work);
    } else {
      work(0, rows);
    }
    if (failed)
      return InvalidArgument("cannot write tensor " + name + " as " + std::string(DTypeName(t)));
    model_.tensors.push_back(std::move(st));
    return Status::Ok();
  }

  void AddF32(const std::string& name, std::vector<float> v) {
    SyntheticTensor st{
        name, DType::kF32, {static_cast<int64_t>(v.size())}, std::vector<uint8_t>(v.size() * 4)};
    std::memcpy(st.data.data(), v.data(), v.size() * 4);
    model_.tensors.push_back(std::move(st));
  }

  // Sets a key; setting it again replaces the value (architectures override shared keys).
  void Meta(std::string key, MetaValue v) {
    for (auto& [k, old] : model_.meta) {
      if (k == key) {
        old = std::move(v);
        return;
      }
    }
    model_.meta.emplace_back(std::move(key), std::move(v));
  }
  void AddTensor(SyntheticTensor t) { model_.tensors.push_back(std::move(t)); }
  SyntheticModel Take() { return std::move(model_); }

 private:
  DType type_;
  uint64_t seed_;
  ThreadPool* pool_;
  SyntheticModel model_;
};

std::vector<float> Llama3RopeFreqs(const Preset& p) {
  const int64_t half = p.head_dim / 2;
  std::vector<float> ff(half);
  const double n0 = static_cast<double>(p.llama3_orig_ctx);
  for (int64_t j = 0; j < half; ++j) {
    const double w = std::pow(static_cast<double>(p.rope_base), -2.0 * j / p.head_dim);
    const double lambda = 2 * kPi / w;
    if (lambda < n0 / p.llama3_high) {
      ff[j] = 1.0f;
    } else if (lambda > n0 / p.llama3_low) {
      ff[j] = p.llama3_factor;
    } else {
      const double s = (n0 / lambda - p.llama3_low) / (p.llama3_high - p.llama3_low);
      ff[j] = static_cast<float>(1.0 / ((1 - s) / p.llama3_factor + s));
    }
  }
  return ff;
}

void AddMeta(const Preset& p, int64_t n_vocab, DType type, Builder* b) {
  const std::string& a = p.arch;
  auto u = [](int64_t v) { return MetaValue(static_cast<uint32_t>(v)); };
  b->Meta("general.architecture", a);
  b->Meta("general.name", "cachet synthetic " + p.name);
  b->Meta("general.file_type", u(static_cast<uint32_t>(type)));
  b->Meta("general.quantization_version", u(2));
  b->Meta(a + ".vocab_size", u(n_vocab));
  b->Meta(a + ".context_length", u(p.n_ctx));
  b->Meta(a + ".embedding_length", u(p.n_embd));
  b->Meta(a + ".block_count", u(p.n_layer));
  b->Meta(a + ".feed_forward_length", u(p.n_ff));
  b->Meta(a + ".attention.head_count", u(p.n_head));
  b->Meta(a + ".attention.head_count_kv", u(p.n_head_kv));
  b->Meta(a + ".attention.key_length", u(p.head_dim));
  b->Meta(a + ".attention.value_length", u(p.head_dim));
  b->Meta(a + ".attention.layer_norm_rms_epsilon", p.norm_eps);
  b->Meta(a + ".rope.freq_base", p.rope_base);
  b->Meta(a + ".rope.dimension_count", u(p.head_dim));
}

Status AddLayer(const Preset& p, int64_t i, Builder* b) {
  const std::string pre = "blk." + std::to_string(i) + ".";
  const int64_t d = p.n_embd, q = p.n_head * p.head_dim, kv = p.n_head_kv * p.head_dim;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q.weight", {d, q}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k.weight", {d, kv}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_v.weight", {d, kv}, Init::kMatrix));
  if (p.qkv_bias) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q.bias", {q}, Init::kBias));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k.bias", {kv}, Init::kBias));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_v.bias", {kv}, Init::kBias));
  }
  if (p.qk_norm) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_norm.weight", {p.head_dim}, Init::kNorm));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k_norm.weight", {p.head_dim}, Init::kNorm));
  }
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_output.weight", {q, d}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate.weight", {d, p.n_ff}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up.weight", {d, p.n_ff}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_down.weight", {p.n_ff, d}, Init::kMatrix));
  return Status::Ok();
}

Preset Make(std::string name, std::string arch, std::string tok, int64_t d, int64_t l, int64_t h,
            int64_t hkv, int64_t hd, int64_t ff) {
  Preset p;
  p.name = std::move(name);
  p.arch = std::move(arch);
  p.default_tokenizer = std::move(tok);
  p.n_vocab = 261;  // ByteLevelFallbackSpec size
  p.n_ctx = 4096;
  p.n_embd = d;
  p.n_layer = l;
  p.n_head = h;
  p.n_head_kv = hkv;
  p.head_dim = hd;
  p.n_ff = ff;
  return p;
}

// ---- deepseek2 (deepseek.md A.2-A.4, A.9) ----

void AddDeepSeekMeta(const Preset& p, Builder* b) {
  const std::string& a = p.arch;
  const DeepSeekDims& ds = p.ds;
  auto u = [](int64_t v) { return MetaValue(static_cast<uint32_t>(v)); };
  b->Meta(a + ".block_count", u(p.n_layer + ds.n_mtp));  // overrides AddMeta's (later wins)
  if (ds.n_mtp > 0) b->Meta(a + ".nextn_predict_layers", u(ds.n_mtp));
  if (ds.legacy_kv_b) {  // what the pre-MLA converter wrote: per-head K / V widths
    b->Meta(a + ".attention.head_count_kv", u(p.n_head));
    b->Meta(a + ".attention.key_length", u(ds.qk_nope + ds.qk_rope));
    b->Meta(a + ".attention.value_length", u(ds.v_head));
  } else {
    b->Meta(a + ".attention.head_count_kv", u(1));
    b->Meta(a + ".attention.key_length", u(ds.kv_lora_rank + ds.qk_rope));
    b->Meta(a + ".attention.value_length", u(ds.kv_lora_rank));
    b->Meta(a + ".attention.key_length_mla", u(ds.qk_nope + ds.qk_rope));
    b->Meta(a + ".attention.value_length_mla", u(ds.v_head));
  }
  if (ds.q_lora_rank > 0) b->Meta(a + ".attention.q_lora_rank", u(ds.q_lora_rank));
  b->Meta(a + ".attention.kv_lora_rank", u(ds.kv_lora_rank));
  b->Meta(a + ".rope.dimension_count", u(ds.qk_rope));
  b->Meta(a + ".leading_dense_block_count", u(ds.n_dense));
  b->Meta(a + ".expert_count", u(ds.n_expert));
  b->Meta(a + ".expert_used_count", u(ds.n_expert_used));
  b->Meta(a + ".expert_shared_count", u(ds.n_expert_shared));
  b->Meta(a + ".expert_feed_forward_length", u(ds.n_ff_exp));
  if (ds.n_group > 1) {
    b->Meta(a + ".expert_group_count", u(ds.n_group));
    b->Meta(a + ".expert_group_used_count", u(ds.n_group_used));
  }
  b->Meta(a + ".expert_gating_func", u(ds.gating));
  b->Meta(a + ".expert_weights_norm", ds.weights_norm);
  b->Meta(a + ".expert_weights_scale", ds.weights_scale);
  if (ds.indexer_heads > 0) {
    b->Meta(a + ".attention.indexer.head_count", u(ds.indexer_heads));
    b->Meta(a + ".attention.indexer.key_length", u(ds.indexer_dim));
    b->Meta(a + ".attention.indexer.top_k", u(ds.indexer_top_k));
  }
  if (ds.yarn_factor > 0) {
    b->Meta(a + ".rope.scaling.type", std::string("yarn"));
    b->Meta(a + ".rope.scaling.factor", ds.yarn_factor);
    b->Meta(a + ".rope.scaling.original_context_length", u(ds.yarn_orig_ctx));
    b->Meta(a + ".rope.scaling.yarn_log_multiplier", 0.1f * ds.mscale_all_dim);
  }
}

Status AddDeepSeekAttention(const Preset& p, const std::string& pre, Builder* b) {
  const DeepSeekDims& ds = p.ds;
  const int64_t d = p.n_embd, H = p.n_head, dqk = ds.qk_nope + ds.qk_rope;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_norm.weight", {d}, Init::kNorm));
  if (ds.q_lora_rank > 0) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_a.weight", {d, ds.q_lora_rank}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_a_norm.weight", {ds.q_lora_rank}, Init::kNorm));
    CACHET_RETURN_IF_ERROR(
        b->Add(pre + "attn_q_b.weight", {ds.q_lora_rank, H * dqk}, Init::kMatrix));
  } else {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q.weight", {d, H * dqk}, Init::kMatrix));
  }
  CACHET_RETURN_IF_ERROR(
      b->Add(pre + "attn_kv_a_mqa.weight", {d, ds.kv_lora_rank + ds.qk_rope}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_kv_a_norm.weight", {ds.kv_lora_rank}, Init::kNorm));
  if (ds.legacy_kv_b) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_kv_b.weight",
                                  {ds.kv_lora_rank, H * (ds.qk_nope + ds.v_head)}, Init::kMatrix));
  } else {
    CACHET_RETURN_IF_ERROR(
        b->Add(pre + "attn_k_b.weight", {ds.qk_nope, ds.kv_lora_rank, H}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(
        b->Add(pre + "attn_v_b.weight", {ds.kv_lora_rank, ds.v_head, H}, Init::kMatrix));
  }
  return b->Add(pre + "attn_output.weight", {H * ds.v_head, d}, Init::kMatrix);
}

Status AddDeepSeekFfn(const Preset& p, int64_t i, const std::string& pre, Builder* b) {
  const DeepSeekDims& ds = p.ds;
  const int64_t d = p.n_embd;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_norm.weight", {d}, Init::kNorm));
  if (i < ds.n_dense) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate.weight", {d, p.n_ff}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up.weight", {d, p.n_ff}, Init::kMatrix));
    return b->Add(pre + "ffn_down.weight", {p.n_ff, d}, Init::kMatrix);
  }
  const int64_t E = ds.n_expert, f = ds.n_ff_exp, fs = ds.n_ff_exp * ds.n_expert_shared;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_inp.weight", {d, E}, Init::kMatrixF32));
  if (ds.score_bias) CACHET_RETURN_IF_ERROR(b->Add(pre + "exp_probs_b.bias", {E}, Init::kBias));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_exps.weight", {d, f, E}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up_exps.weight", {d, f, E}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_down_exps.weight", {f, d, E}, Init::kMatrix));
  if (fs > 0) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_shexp.weight", {d, fs}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up_shexp.weight", {d, fs}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_down_shexp.weight", {fs, d}, Init::kMatrix));
  }
  return Status::Ok();
}

// Blocks 0..L-1 are the trunk; blocks L.. are MTP (nextn) blocks: a MoE layer plus the nextn
// projection and norms (A.9; embed_tokens / shared_head_head are left to the defaults).
Status AddDeepSeekLayers(const Preset& p, Builder* b) {
  const int64_t d = p.n_embd;
  for (int64_t i = 0; i < p.n_layer + p.ds.n_mtp; ++i) {
    const std::string pre = "blk." + std::to_string(i) + ".";
    CACHET_RETURN_IF_ERROR(AddDeepSeekAttention(p, pre, b));
    CACHET_RETURN_IF_ERROR(AddDeepSeekFfn(p, i, pre, b));
    if (i < p.n_layer && p.ds.indexer_heads > 0) {  // B.1; MTP blocks run dense MLA
      const DeepSeekDims& ds = p.ds;
      CACHET_RETURN_IF_ERROR(b->Add(pre + "indexer.attn_q_b.weight",
                                    {ds.q_lora_rank, ds.indexer_heads * ds.indexer_dim},
                                    Init::kMatrix));
      CACHET_RETURN_IF_ERROR(
          b->Add(pre + "indexer.attn_k.weight", {d, ds.indexer_dim}, Init::kMatrix));
      CACHET_RETURN_IF_ERROR(b->Add(pre + "indexer.k_norm.weight", {ds.indexer_dim}, Init::kNorm));
      CACHET_RETURN_IF_ERROR(b->Add(pre + "indexer.k_norm.bias", {ds.indexer_dim}, Init::kBias));
      CACHET_RETURN_IF_ERROR(
          b->Add(pre + "indexer.proj.weight", {d, ds.indexer_heads}, Init::kMatrix));
    }
    if (i < p.n_layer) continue;
    CACHET_RETURN_IF_ERROR(b->Add(pre + "nextn.eh_proj.weight", {2 * d, d}, Init::kMatrix));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "nextn.enorm.weight", {d}, Init::kNorm));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "nextn.hnorm.weight", {d}, Init::kNorm));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "nextn.shared_head_norm.weight", {d}, Init::kNorm));
  }
  return Status::Ok();
}

void AddDeepSeekPresets(std::vector<Preset>* v) {
  // V2-Lite style: no q compression, softmax gating without bias, 1 dense layer, YaRN M = 0.707.
  Preset t = Make("ds2-tiny", "deepseek2", "deepseek-v3", 256, 3, 4, 1, 48, 512);
  t.tied = false;
  t.norm_eps = 1e-6f;
  t.ds.kv_lora_rank = 64;
  t.ds.qk_nope = 32;
  t.ds.qk_rope = 16;
  t.ds.v_head = 32;
  t.ds.n_dense = 1;
  t.ds.n_expert = 8;
  t.ds.n_expert_used = 3;
  t.ds.n_expert_shared = 2;
  t.ds.n_ff_exp = 128;
  t.ds.yarn_factor = 40.0f;
  t.ds.mscale_all_dim = 0.707f;
  v->push_back(t);
  Preset legacy = t;  // the same shapes as a pre-MLA conversion (attn_kv_b)
  legacy.name = "ds2-tiny-legacy";
  legacy.ds.legacy_kv_b = true;
  v->push_back(legacy);
  // V3 style: q compression, sigmoid gating with groups and bias, normalised and scaled weights,
  // one MTP block.
  Preset t3 = t;
  t3.name = "ds3-tiny";
  t3.ds.q_lora_rank = 96;
  t3.ds.n_expert = 16;
  t3.ds.n_expert_used = 4;
  t3.ds.n_expert_shared = 1;
  t3.ds.n_group = 4;
  t3.ds.n_group_used = 2;
  t3.ds.gating = 2;
  t3.ds.score_bias = true;
  t3.ds.weights_norm = true;
  t3.ds.weights_scale = 2.5f;
  t3.ds.mscale_all_dim = 1.0f;
  t3.ds.n_mtp = 1;
  v->push_back(t3);
  // V3.2 style: ds3-tiny plus the lightning indexer, top-k small enough that 100-token prompts
  // attend sparsely (no MTP block).
  Preset t32 = t3;
  t32.name = "ds32-tiny";
  t32.arch = "deepseek32";
  t32.ds.n_mtp = 0;
  t32.ds.indexer_heads = 4;
  t32.ds.indexer_dim = 32;
  t32.ds.indexer_top_k = 24;
  v->push_back(t32);
  // DeepSeek-V2-Lite dimensions with 4 layers (benchmarks).
  Preset lite = Make("ds2-lite-4l", "deepseek2", "deepseek-v3", 2048, 4, 16, 1, 192, 10944);
  lite.ds = t.ds;
  lite.tied = false;
  lite.norm_eps = 1e-6f;
  lite.n_vocab = 102400;
  lite.n_ctx = 163840;
  lite.ds.kv_lora_rank = 512;
  lite.ds.qk_nope = 128;
  lite.ds.qk_rope = 64;
  lite.ds.v_head = 128;
  lite.ds.n_expert = 64;
  lite.ds.n_expert_used = 6;
  lite.ds.n_expert_shared = 2;
  lite.ds.n_ff_exp = 1408;
  v->push_back(lite);
}

// ---- deepseek4 (deepseek.md C.2-C.3) ----

void AddDs4Meta(const Preset& p, Builder* b) {
  const std::string a = "deepseek4.";
  const Ds4Dims& x = p.ds4;
  auto u = [](int64_t v) { return MetaValue(static_cast<uint32_t>(v)); };
  const int64_t L = p.n_layer;
  b->Meta(a + "attention.head_count_kv", u(1));
  b->Meta(a + "attention.key_length", u(p.head_dim));
  b->Meta(a + "attention.value_length", u(p.head_dim));
  b->Meta(a + "rope.dimension_count", u(x.rope_dim));
  b->Meta(a + "embedding_length_out", u(x.hc * p.n_embd));
  b->Meta(a + "attention.q_lora_rank", u(x.q_lora_rank));
  b->Meta(a + "attention.sliding_window", u(x.n_swa));
  b->Meta(a + "attention.output_group_count", u(x.out_groups));
  b->Meta(a + "attention.output_lora_rank", u(x.out_rank));
  b->Meta(a + "attention.compress_rope_freq_base", x.compress_rope_base);
  std::vector<int32_t> ratios = x.ratios;
  ratios.push_back(0);  // V4 files carry one more entry (the MTP block's)
  b->Meta(a + "attention.compress_ratios", ratios);
  b->Meta(a + "attention.indexer.head_count", u(x.indexer_heads));
  b->Meta(a + "attention.indexer.key_length", u(x.indexer_dim));
  b->Meta(a + "attention.indexer.top_k", u(x.indexer_top_k));
  b->Meta(a + "hyper_connection.count", u(x.hc));
  b->Meta(a + "hyper_connection.sinkhorn_iterations", u(x.n_sinkhorn));
  b->Meta(a + "hyper_connection.epsilon", 1e-6f);
  b->Meta(a + "hash_layer_count", u(x.n_hash));
  b->Meta(a + "expert_count", u(x.n_expert));
  b->Meta(a + "expert_used_count", u(x.n_expert_used));
  b->Meta(a + "expert_shared_count", u(x.n_expert_shared));
  b->Meta(a + "expert_feed_forward_length", u(x.n_ff_exp));
  b->Meta(a + "expert_weights_scale", x.weights_scale);
  b->Meta(a + "expert_weights_norm", true);
  b->Meta(a + "expert_gating_func", u(4));
  b->Meta(a + "swiglu_clamp_exp", std::vector<float>(L, x.clamp_exp));
  b->Meta(a + "swiglu_clamp_shexp", std::vector<float>(L, x.clamp_shexp));
  if (x.yarn_factor > 0) {
    b->Meta(a + "rope.scaling.type", std::string("yarn"));
    b->Meta(a + "rope.scaling.factor", x.yarn_factor);
    b->Meta(a + "rope.scaling.original_context_length", u(x.yarn_orig_ctx));
  }
}

Status AddDs4Mhc(const Preset& p, const std::string& pre, Builder* b) {
  const int64_t hd = p.ds4.hc * p.n_embd, n = (2 + p.ds4.hc) * p.ds4.hc;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "_fn.weight", {hd, n}, Init::kMatrixF32));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "_base.weight", {n}, Init::kBias));
  return b->Add(pre + "_scale.weight", {3}, Init::kNorm);
}

// A compressor of ratio R over entries of width W (kappa = 2 overlapping halves when R = 4).
Status AddDs4Compressor(const Preset& p, const std::string& pre, int64_t R, int64_t W, Builder* b) {
  const int64_t kw = (R == 4 ? 2 : 1) * W;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "kv.weight", {p.n_embd, kw}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "gate.weight", {p.n_embd, kw}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ape.weight", {kw, R}, Init::kBias));
  return b->Add(pre + "norm.weight", {W}, Init::kNorm);
}

Status AddDs4Attention(const Preset& p, int64_t i, const std::string& pre, Builder* b) {
  const Ds4Dims& x = p.ds4;
  const int64_t d = p.n_embd, H = p.n_head, D = p.head_dim, R = x.ratios[i];
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_sinks.weight", {H}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_a.weight", {d, x.q_lora_rank}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_a_norm.weight", {x.q_lora_rank}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_b.weight", {x.q_lora_rank, H * D}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_kv.weight", {d, D}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_kv_a_norm.weight", {D}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_output_a.weight",
                                {H * D / x.out_groups, x.out_groups * x.out_rank}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(
      b->Add(pre + "attn_output_b.weight", {x.out_groups * x.out_rank, d}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(AddDs4Mhc(p, pre + "hc_attn", b));
  CACHET_RETURN_IF_ERROR(AddDs4Mhc(p, pre + "hc_ffn", b));
  if (R == 0) return Status::Ok();
  CACHET_RETURN_IF_ERROR(AddDs4Compressor(p, pre + "attn_compressor_", R, D, b));
  if (R != 4) return Status::Ok();
  const int64_t hi = x.indexer_heads, di = x.indexer_dim;
  CACHET_RETURN_IF_ERROR(
      b->Add(pre + "indexer.attn_q_b.weight", {x.q_lora_rank, hi * di}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "indexer.proj.weight", {d, hi}, Init::kMatrix));
  return AddDs4Compressor(p, pre + "indexer_compressor_", 4, di, b);
}

// tid2eid [k, V] (I32): token v's k distinct experts (v + l + j * (E / k)) mod E.
void AddDs4HashTable(const Preset& p, int64_t i, int64_t n_vocab, const std::string& pre,
                     Builder* b) {
  const int64_t E = p.ds4.n_expert, k = p.ds4.n_expert_used, step = std::max<int64_t>(1, E / k);
  std::vector<int32_t> ids(n_vocab * k);
  for (int64_t v = 0; v < n_vocab; ++v) {
    for (int64_t j = 0; j < k; ++j) ids[v * k + j] = static_cast<int32_t>((v + i + j * step) % E);
  }
  SyntheticTensor st{pre + "ffn_gate_tid2eid.weight",
                     DType::kI32,
                     {k, n_vocab},
                     std::vector<uint8_t>(ids.size() * 4)};
  std::memcpy(st.data.data(), ids.data(), st.data.size());
  b->AddTensor(std::move(st));
}

Status AddDs4Ffn(const Preset& p, int64_t i, int64_t n_vocab, const std::string& pre, Builder* b) {
  const Ds4Dims& x = p.ds4;
  const int64_t d = p.n_embd, E = x.n_expert, f = x.n_ff_exp, fs = f * x.n_expert_shared;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_inp.weight", {d, E}, Init::kMatrixF32));
  if (i < x.n_hash) {
    AddDs4HashTable(p, i, n_vocab, pre, b);
  } else {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "exp_probs_b.bias", {E}, Init::kBias));
  }
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_exps.weight", {d, f, E}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up_exps.weight", {d, f, E}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_down_exps.weight", {f, d, E}, Init::kMatrix));
  if (fs == 0) return Status::Ok();
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate_shexp.weight", {d, fs}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up_shexp.weight", {d, fs}, Init::kMatrix));
  return b->Add(pre + "ffn_down_shexp.weight", {fs, d}, Init::kMatrix);
}

Status AddDs4Model(const Preset& p, int64_t n_vocab, Builder* b) {
  AddDs4Meta(p, b);
  const int64_t hd = p.ds4.hc * p.n_embd;
  CACHET_RETURN_IF_ERROR(b->Add("output_hc_fn.weight", {hd, p.ds4.hc}, Init::kMatrixF32));
  CACHET_RETURN_IF_ERROR(b->Add("output_hc_base.weight", {p.ds4.hc}, Init::kBias));
  CACHET_RETURN_IF_ERROR(b->Add("output_hc_scale.weight", {1}, Init::kNorm));
  for (int64_t i = 0; i < p.n_layer; ++i) {
    const std::string pre = "blk." + std::to_string(i) + ".";
    CACHET_RETURN_IF_ERROR(AddDs4Attention(p, i, pre, b));
    CACHET_RETURN_IF_ERROR(AddDs4Ffn(p, i, n_vocab, pre, b));
  }
  return Status::Ok();
}

// ds4-tiny: every V4 feature on, small enough for unit tests: layers SWA, CSA, HCA, CSA (a
// 16-token window, so 100+-token prompts depend on the compressed entries; indexer top-k 8 so
// CSA selects sparsely from 36 tokens on), 2 hash-routed layers then score-routed ones, one
// shared expert, clamps that bite (|activations| ~ 1), YaRN in the compressed layers.
void AddDs4Presets(std::vector<Preset>* v) {
  Preset t = Make("ds4-tiny", "deepseek4", "deepseek-v3", 128, 4, 4, 1, 64, 64);
  t.tied = false;
  t.norm_eps = 1e-6f;
  Ds4Dims& x = t.ds4;
  x.q_lora_rank = 64;
  x.rope_dim = 16;
  x.n_swa = 16;
  x.out_groups = 2;
  x.out_rank = 32;
  x.ratios = {0, 4, 128, 4};
  x.indexer_heads = 2;
  x.indexer_dim = 32;
  x.indexer_top_k = 8;
  x.n_hash = 2;
  x.n_expert = 8;
  x.n_expert_used = 2;
  x.n_expert_shared = 1;
  x.n_ff_exp = 64;
  x.clamp_exp = 1.0f;
  x.clamp_shexp = 1.5f;
  x.yarn_factor = 4.0f;
  x.yarn_orig_ctx = 256;
  v->push_back(t);
}

}  // namespace

DType FallbackType(DType wanted, int64_t k) {
  if (k % Traits(wanted).block_size == 0) return wanted;
  if (k % kQK8_0 == 0) return DType::kQ8_0;
  return DType::kF16;
}

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = [] {
    std::vector<Preset> v;
    Preset lt = Make("llama-tiny", "llama", "llama3", 256, 4, 8, 4, 32, 768);
    lt.rope_base = 500000.0f;
    v.push_back(lt);
    Preset q2 = Make("qwen2-tiny", "qwen2", "qwen3", 256, 2, 4, 2, 64, 512);
    q2.qkv_bias = true;
    q2.tied = false;
    q2.rope_base = 1000000.0f;
    q2.norm_eps = 1e-6f;
    v.push_back(q2);
    Preset q3 = Make("qwen3-tiny", "qwen3", "qwen3", 256, 2, 8, 2, 64, 512);  // q width 512 != d
    q3.qk_norm = true;
    q3.rope_base = 1000000.0f;
    q3.norm_eps = 1e-6f;
    v.push_back(q3);
    Preset l1 = Make("llama-1b", "llama", "llama3", 2048, 16, 32, 8, 64, 8192);
    l1.n_vocab = 128256;
    l1.n_ctx = 131072;
    l1.rope_base = 500000.0f;
    l1.llama3_factor = 32.0f;
    v.push_back(l1);
    AddDeepSeekPresets(&v);
    AddDs4Presets(&v);
    return v;
  }();
  return presets;
}

const Preset* FindPreset(const std::string& name) {
  for (const auto& p : Presets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<SyntheticModel> MakeSyntheticModel(const Preset& p, DType type, uint64_t seed,
                                          int64_t n_vocab, ThreadPool* pool) {
  if (n_vocab <= 0) n_vocab = p.n_vocab;
  Builder b(type, seed, pool);
  AddMeta(p, n_vocab, type, &b);
  CACHET_RETURN_IF_ERROR(b.Add("token_embd.weight", {p.n_embd, n_vocab}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b.Add("output_norm.weight", {p.n_embd}, Init::kNorm));
  if (!p.tied) CACHET_RETURN_IF_ERROR(b.Add("output.weight", {p.n_embd, n_vocab}, Init::kMatrix));
  if (p.llama3_factor > 0) b.AddF32("rope_freqs.weight", Llama3RopeFreqs(p));
  if (p.arch == "deepseek4") {
    CACHET_RETURN_IF_ERROR(AddDs4Model(p, n_vocab, &b));
    return b.Take();
  }
  if (p.arch == "deepseek2" || p.arch == "deepseek32") {
    AddDeepSeekMeta(p, &b);
    CACHET_RETURN_IF_ERROR(AddDeepSeekLayers(p, &b));
    return b.Take();
  }
  for (int64_t i = 0; i < p.n_layer; ++i) CACHET_RETURN_IF_ERROR(AddLayer(p, i, &b));
  return b.Take();
}

}  // namespace cachet::model
