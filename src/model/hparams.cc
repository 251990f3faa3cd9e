#include "model/hparams.h"

#include <algorithm>
#include <cmath>

namespace cachet::model {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kMaxDim = int64_t{1} << 24;  // sanity bound for any size read from a file

std::string Key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

Result<int64_t> RequiredInt(const ModelFile& f, const std::string& key) {
  if (!f.Has(key)) return Corrupt("missing required key " + key);
  auto v = f.GetInt(key);
  if (!v) return Corrupt("key " + key + " is not an integer");
  if (*v <= 0 || *v > kMaxDim)
    return Corrupt("key " + key + " out of range: " + std::to_string(*v));
  return *v;
}

// Scalar or per-layer array (all entries must agree: we do not run heterogeneous layers).
Result<int64_t> IntOrLayerArray(const ModelFile& f, const std::string& key, int64_t n_layer,
                                std::optional<int64_t> dflt) {
  if (!f.Has(key)) {
    if (dflt) return *dflt;
    return Corrupt("missing required key " + key);
  }
  if (auto v = f.GetInt(key)) {
    if (*v <= 0 || *v > kMaxDim) return Corrupt("key " + key + " out of range");
    return *v;
  }
  auto arr = f.GetIntArray(key);
  if (!arr) return Corrupt("key " + key + " is neither an integer nor an integer array");
  if (static_cast<int64_t>(arr->size()) != n_layer) {
    return Corrupt("key " + key + " has " + std::to_string(arr->size()) + " entries, expected " +
                   std::to_string(n_layer));
  }
  const int64_t first = arr->front();
  for (int64_t v : *arr) {
    if (v != first) return Unsupported("key " + key + ": per-layer values differ");
  }
  if (first <= 0 || first > kMaxDim) return Corrupt("key " + key + " out of range");
  return first;
}

Result<float> OptFloat(const ModelFile& f, const std::string& key, float dflt) {
  if (!f.Has(key)) return dflt;
  auto v = f.GetFloat(key);
  if (!v) return Corrupt("key " + key + " is not a float");
  if (!std::isfinite(*v)) return Corrupt("key " + key + " is not finite");
  return static_cast<float>(*v);
}

Status ReadRope(const ModelFile& f, const std::string& arch, HParams* hp) {
  CACHET_ASSIGN_OR_RETURN(hp->rope_base, OptFloat(f, Key(arch, "rope.freq_base"), 10000.0f));
  if (hp->rope_base <= 1.0f) return Corrupt("key " + Key(arch, "rope.freq_base") + " must be > 1");
  std::string type = "linear";
  const std::string type_key = Key(arch, "rope.scaling.type");
  if (f.Has(type_key)) {
    auto s = f.GetString(type_key);
    if (!s) return Corrupt("key " + type_key + " is not a string");
    type = *s;
  }
  if (type == "none") {
    hp->rope_scaling = RopeScaling::kNone;
  } else if (type == "linear") {
    hp->rope_scaling = RopeScaling::kLinear;
  } else if (type == "yarn") {
    hp->rope_scaling = RopeScaling::kYarn;
  } else {
    return Unsupported("key " + type_key + ": rope scaling '" + type + "'");
  }
  float factor = 0;
  CACHET_ASSIGN_OR_RETURN(factor, OptFloat(f, Key(arch, "rope.scaling.factor"), 0.0f));
  if (factor == 0.0f) {
    CACHET_ASSIGN_OR_RETURN(factor, OptFloat(f, Key(arch, "rope.scale_linear"), 0.0f));
  }
  if (factor < 0.0f) return Corrupt("key " + Key(arch, "rope.scaling.factor") + " is negative");
  hp->rope_factor = factor == 0.0f ? 1.0f : factor;
  hp->rope_orig_ctx = hp->n_ctx_train;
  const std::string orig_key = Key(arch, "rope.scaling.original_context_length");
  if (f.Has(orig_key)) {
    CACHET_ASSIGN_OR_RETURN(hp->rope_orig_ctx, RequiredInt(f, orig_key));
  }
  CACHET_ASSIGN_OR_RETURN(hp->rope_attn_factor,
                          OptFloat(f, Key(arch, "rope.scaling.attn_factor"), 1.0f));
  const float ext_default = hp->rope_scaling == RopeScaling::kYarn ? 1.0f : 0.0f;
  CACHET_ASSIGN_OR_RETURN(hp->yarn_ext_factor,
                          OptFloat(f, Key(arch, "rope.scaling.yarn_ext_factor"), ext_default));
  return Status::Ok();
}

Status CheckConsistency(const std::string& arch, const HParams& hp) {
  if (hp.n_head % hp.n_head_kv != 0) {
    return Corrupt(Key(arch, "attention.head_count") + " (" + std::to_string(hp.n_head) +
                   ") is not a multiple of head_count_kv (" + std::to_string(hp.n_head_kv) + ")");
  }
  if (hp.n_rot <= 0 || hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim) {
    return Corrupt(Key(arch, "rope.dimension_count") + " must be even and <= key_length");
  }
  if (hp.head_dim_v != hp.head_dim) {
    return Unsupported(Key(arch, "attention.value_length") + " differs from key_length");
  }
  if (!(hp.norm_eps > 0.0f && hp.norm_eps < 1.0f)) {
    return Corrupt(Key(arch, "attention.layer_norm_rms_epsilon") + " out of range");
  }
  return Status::Ok();
}

}  // namespace

Result<HParams> ReadHParams(const ModelFile& f, const std::string& arch) {
  HParams hp;
  hp.arch = arch;
  CACHET_ASSIGN_OR_RETURN(hp.n_ctx_train, RequiredInt(f, Key(arch, "context_length")));
  CACHET_ASSIGN_OR_RETURN(hp.n_embd, RequiredInt(f, Key(arch, "embedding_length")));
  CACHET_ASSIGN_OR_RETURN(hp.n_layer, RequiredInt(f, Key(arch, "block_count")));
  CACHET_ASSIGN_OR_RETURN(
      hp.n_ff, IntOrLayerArray(f, Key(arch, "feed_forward_length"), hp.n_layer, std::nullopt));
  CACHET_ASSIGN_OR_RETURN(
      hp.n_head, IntOrLayerArray(f, Key(arch, "attention.head_count"), hp.n_layer, std::nullopt));
  CACHET_ASSIGN_OR_RETURN(hp.n_head_kv, IntOrLayerArray(f, Key(arch, "attention.head_count_kv"),
                                                        hp.n_layer, hp.n_head));
  const int64_t dflt_head = hp.n_embd / hp.n_head;
  CACHET_ASSIGN_OR_RETURN(
      hp.head_dim, IntOrLayerArray(f, Key(arch, "attention.key_length"), hp.n_layer, dflt_head));
  CACHET_ASSIGN_OR_RETURN(hp.head_dim_v, IntOrLayerArray(f, Key(arch, "attention.value_length"),
                                                         hp.n_layer, dflt_head));
  CACHET_ASSIGN_OR_RETURN(
      hp.n_rot, IntOrLayerArray(f, Key(arch, "rope.dimension_count"), hp.n_layer, hp.head_dim));
  const std::string eps_key = Key(arch, "attention.layer_norm_rms_epsilon");
  if (!f.Has(eps_key)) return Corrupt("missing required key " + eps_key);
  CACHET_ASSIGN_OR_RETURN(hp.norm_eps, OptFloat(f, eps_key, 0.0f));
  const std::string vocab_key = Key(arch, "vocab_size");
  if (f.Has(vocab_key)) {
    CACHET_ASSIGN_OR_RETURN(hp.n_vocab, RequiredInt(f, vocab_key));
  }
  CACHET_RETURN_IF_ERROR(ReadRope(f, arch, &hp));
  CACHET_RETURN_IF_ERROR(CheckConsistency(arch, hp));
  return hp;
}

std::vector<float> RopeInvFreq(const HParams& hp, const float* rope_freqs, float* mscale) {
  const int64_t half = hp.n_rot / 2;
  std::vector<float> inv(half);
  const double n_rot = static_cast<double>(hp.n_rot);
  const double s = hp.rope_factor;
  double lo = 0, hi = 0;
  if (hp.rope_scaling == RopeScaling::kYarn) {
    auto corr = [&](double beta) {
      return n_rot * std::log(hp.rope_orig_ctx / (2 * kPi * beta)) / (2 * std::log(hp.rope_base));
    };
    lo = std::max(0.0, std::floor(corr(hp.yarn_beta_fast)));
    hi = std::min(n_rot - 1, std::ceil(corr(hp.yarn_beta_slow)));
  }
  for (int64_t j = 0; j < half; ++j) {
    double w = std::pow(static_cast<double>(hp.rope_base), -2.0 * j / n_rot);
    if (rope_freqs != nullptr) w /= rope_freqs[j];
    if (hp.rope_scaling == RopeScaling::kLinear) {
      w /= s;
    } else if (hp.rope_scaling == RopeScaling::kYarn) {
      const double r = 1.0 - std::clamp((j - lo) / std::max(0.001, hi - lo), 0.0, 1.0);
      const double mu = hp.yarn_ext_factor * r;
      w *= mu + (1.0 - mu) / s;
    }
    inv[j] = static_cast<float>(w);
  }
  *mscale = 1.0f;
  if (hp.rope_scaling == RopeScaling::kYarn) {
    const double m = (hp.yarn_ext_factor != 0.0f && s > 1.0) ? 1.0 + 0.1 * std::log(s) : 1.0;
    *mscale = static_cast<float>(hp.rope_attn_factor * m);
  }
  return inv;
}

std::string RopeScalingName(RopeScaling s) {
  switch (s) {
    case RopeScaling::kNone:
      return "none";
    case RopeScaling::kLinear:
      return "linear";
    case RopeScaling::kYarn:
      return "yarn";
  }
  return "?";
}

}  // namespace cachet::model

namespace cachet::model {
namespace {

Result<int64_t> OptInt(const ModelFile& f, const std::string& key, int64_t dflt, int64_t lo) {
  if (!f.Has(key)) return dflt;
  auto v = f.GetInt(key);
  if (!v) return Corrupt("key " + key + " is not an integer");
  if (*v < lo || *v > kMaxDim) return Corrupt("key " + key + " out of range: " + std::to_string(*v));
  return *v;
}

// g(s, m) = 1 + 0.1 m ln s for s > 1 (deepseek.md A.6).
double YarnG(double s, double m) { return s > 1.0 ? 1.0 + 0.1 * m * std::log(s) : 1.0; }

Status ReadDeepSeekAttention(const ModelFile& f, const std::string& arch, DeepSeekHParams* ds) {
  HParams& hp = ds->base;
  CACHET_ASSIGN_OR_RETURN(hp.n_head, RequiredInt(f, Key(arch, "attention.head_count")));
  const std::string kmla = Key(arch, "attention.key_length_mla");
  const std::string vmla = Key(arch, "attention.value_length_mla");
  int64_t d_qk = 0;
  ds->legacy_kv_b = !f.Has(kmla) || !f.Has(vmla);
  if (ds->legacy_kv_b) {  // A.3: per-head K / V widths in the plain keys
    CACHET_ASSIGN_OR_RETURN(d_qk, RequiredInt(f, Key(arch, "attention.key_length")));
    CACHET_ASSIGN_OR_RETURN(ds->v_head_dim, RequiredInt(f, Key(arch, "attention.value_length")));
  } else {
    CACHET_ASSIGN_OR_RETURN(d_qk, RequiredInt(f, kmla));
    CACHET_ASSIGN_OR_RETURN(ds->v_head_dim, RequiredInt(f, vmla));
  }
  CACHET_ASSIGN_OR_RETURN(ds->qk_rope_dim, RequiredInt(f, Key(arch, "rope.dimension_count")));
  CACHET_ASSIGN_OR_RETURN(ds->kv_lora_rank, RequiredInt(f, Key(arch, "attention.kv_lora_rank")));
  CACHET_ASSIGN_OR_RETURN(ds->q_lora_rank, OptInt(f, Key(arch, "attention.q_lora_rank"), 0, 0));
  if (ds->qk_rope_dim % 2 != 0 || ds->qk_rope_dim >= d_qk) {
    return Corrupt(Key(arch, "rope.dimension_count") + " must be even and < " + kmla);
  }
  ds->qk_nope_dim = d_qk - ds->qk_rope_dim;
  hp.n_head_kv = 1;  // the absorbed form is MQA over one latent "head"
  hp.head_dim = d_qk;
  hp.head_dim_v = ds->v_head_dim;
  hp.n_rot = ds->qk_rope_dim;
  return Status::Ok();
}

Status ReadDeepSeekMoe(const ModelFile& f, const std::string& arch, DeepSeekHParams* ds) {
  const int64_t L = ds->base.n_layer;
  CACHET_ASSIGN_OR_RETURN(ds->n_dense, OptInt(f, Key(arch, "leading_dense_block_count"), 0, 0));
  if (ds->n_dense > L) return Corrupt(Key(arch, "leading_dense_block_count") + " > block_count");
  if (ds->n_dense > 0) {
    CACHET_ASSIGN_OR_RETURN(ds->base.n_ff, RequiredInt(f, Key(arch, "feed_forward_length")));
  } else {
    CACHET_ASSIGN_OR_RETURN(ds->base.n_ff, OptInt(f, Key(arch, "feed_forward_length"), 0, 0));
  }
  if (ds->n_dense == L && ds->n_mtp == 0) return Status::Ok();  // dense-only: no MoE keys needed
  CACHET_ASSIGN_OR_RETURN(ds->n_expert, RequiredInt(f, Key(arch, "expert_count")));
  CACHET_ASSIGN_OR_RETURN(ds->n_expert_used, RequiredInt(f, Key(arch, "expert_used_count")));
  CACHET_ASSIGN_OR_RETURN(ds->n_expert_shared, OptInt(f, Key(arch, "expert_shared_count"), 0, 0));
  CACHET_ASSIGN_OR_RETURN(ds->n_ff_exp, RequiredInt(f, Key(arch, "expert_feed_forward_length")));
  CACHET_ASSIGN_OR_RETURN(ds->n_group, OptInt(f, Key(arch, "expert_group_count"), 1, 0));
  CACHET_ASSIGN_OR_RETURN(ds->n_group_used, OptInt(f, Key(arch, "expert_group_used_count"), 1, 0));
  if (ds->n_group <= 1) ds->n_group = ds->n_group_used = 1;
  int64_t gating = 1;
  CACHET_ASSIGN_OR_RETURN(gating, OptInt(f, Key(arch, "expert_gating_func"), 1, 0));
  if (gating == 0) gating = 1;  // llama.cpp writes 0 (none) for old files: softmax
  if (gating != 1 && gating != 2) {
    return Corrupt(Key(arch, "expert_gating_func") + ": unknown value " + std::to_string(gating));
  }
  ds->gating = static_cast<ExpertGating>(gating);
  const std::string norm_key = Key(arch, "expert_weights_norm");
  if (f.Has(norm_key)) {
    auto b = f.GetBool(norm_key);
    if (!b) return Corrupt("key " + norm_key + " is not a bool");
    ds->weights_norm = *b;
  }
  CACHET_ASSIGN_OR_RETURN(ds->weights_scale, OptFloat(f, Key(arch, "expert_weights_scale"), 1.0f));
  if (ds->weights_scale == 0.0f) ds->weights_scale = 1.0f;
  if (ds->n_expert_used > ds->n_expert) {
    return Corrupt(Key(arch, "expert_used_count") + " > expert_count");
  }
  if (ds->n_expert % ds->n_group != 0 || ds->n_group_used > ds->n_group ||
      ds->n_group_used == 0 || ds->n_expert_used > ds->n_group_used * (ds->n_expert / ds->n_group)) {
    return Corrupt(Key(arch, "expert_group_count") + " / expert_group_used_count inconsistent");
  }
  return Status::Ok();
}

}  // namespace

float DeepSeekHParams::attn_mscale_sq() const {
  if (base.rope_scaling != RopeScaling::kYarn) return 1.0f;
  const double g = YarnG(base.rope_factor, mscale_all_dim);
  return static_cast<float>(g * g);
}

float DeepSeekHParams::attn_scale() const {
  return attn_mscale_sq() / std::sqrt(static_cast<float>(qk_head_dim()));
}

Result<DeepSeekHParams> ReadDeepSeekHParams(const ModelFile& f, const std::string& arch) {
  DeepSeekHParams ds;
  HParams& hp = ds.base;
  hp.arch = arch;
  CACHET_ASSIGN_OR_RETURN(hp.n_ctx_train, RequiredInt(f, Key(arch, "context_length")));
  CACHET_ASSIGN_OR_RETURN(hp.n_embd, RequiredInt(f, Key(arch, "embedding_length")));
  CACHET_ASSIGN_OR_RETURN(ds.n_layer_all, RequiredInt(f, Key(arch, "block_count")));
  CACHET_ASSIGN_OR_RETURN(ds.n_mtp, OptInt(f, Key(arch, "nextn_predict_layers"), 0, 0));
  if (ds.n_mtp >= ds.n_layer_all) {
    return Corrupt(Key(arch, "nextn_predict_layers") + " >= block_count");
  }
  hp.n_layer = ds.n_layer_all - ds.n_mtp;
  CACHET_RETURN_IF_ERROR(ReadDeepSeekAttention(f, arch, &ds));
  CACHET_RETURN_IF_ERROR(ReadDeepSeekMoe(f, arch, &ds));
  const std::string eps_key = Key(arch, "attention.layer_norm_rms_epsilon");
  if (!f.Has(eps_key)) return Corrupt("missing required key " + eps_key);
  CACHET_ASSIGN_OR_RETURN(hp.norm_eps, OptFloat(f, eps_key, 0.0f));
  if (!(hp.norm_eps > 0.0f && hp.norm_eps < 1.0f)) return Corrupt(eps_key + " out of range");
  const std::string vocab_key = Key(arch, "vocab_size");
  if (f.Has(vocab_key)) {
    CACHET_ASSIGN_OR_RETURN(hp.n_vocab, RequiredInt(f, vocab_key));
  }
  CACHET_RETURN_IF_ERROR(ReadRope(f, arch, &hp));
  if (arch == "deepseek32") {
    CACHET_ASSIGN_OR_RETURN(ds.indexer_heads,
                            RequiredInt(f, Key(arch, "attention.indexer.head_count")));
    CACHET_ASSIGN_OR_RETURN(ds.indexer_dim, RequiredInt(f, Key(arch, "attention.indexer.key_length")));
    CACHET_ASSIGN_OR_RETURN(ds.indexer_top_k, RequiredInt(f, Key(arch, "attention.indexer.top_k")));
    if (ds.q_lora_rank == 0 || ds.legacy_kv_b || ds.qk_rope_dim > ds.indexer_dim) {
      return Corrupt(arch + ": the indexer needs q_lora_rank > 0, an MLA file and rope dims <= " +
                     Key(arch, "attention.indexer.key_length"));
    }
  }
  if (hp.rope_scaling == RopeScaling::kLinear && hp.rope_factor != 1.0f) {
    return Unsupported(arch + ": linear rope scaling");
  }
  if (hp.rope_scaling == RopeScaling::kYarn && hp.rope_factor > 1.0f) {
    const std::string lm = Key(arch, "rope.scaling.yarn_log_multiplier");
    if (!f.Has(lm)) return Unsupported(arch + ": YaRN without " + lm + " (deepseek.md A.6)");
    float mult = 0;
    CACHET_ASSIGN_OR_RETURN(mult, OptFloat(f, lm, 0.0f));
    ds.mscale_all_dim = mult / 0.1f;
  }
  return ds;
}

}  // namespace cachet::model
