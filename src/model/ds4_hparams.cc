#include "model/ds4_hparams.h"

#include <cmath>
#include <string>

namespace cachet::model {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;
const std::string kArch = "deepseek4";

std::string Key(const char* suffix) { return kArch + "." + suffix; }

Result<int64_t> Int(const ModelFile& f, const char* suffix, std::optional<int64_t> dflt,
                    int64_t lo = 1) {
  const std::string key = Key(suffix);
  if (!f.Has(key)) {
    if (dflt) return *dflt;
    return Corrupt("missing required key " + key);
  }
  auto v = f.GetInt(key);
  if (!v) return Corrupt("key " + key + " is not an integer");
  if (*v < lo || *v > kMaxDim)
    return Corrupt("key " + key + " out of range: " + std::to_string(*v));
  return *v;
}

Result<float> Float(const ModelFile& f, const char* suffix, std::optional<float> dflt) {
  const std::string key = Key(suffix);
  if (!f.Has(key)) {
    if (dflt) return *dflt;
    return Corrupt("missing required key " + key);
  }
  auto v = f.GetFloat(key);
  if (!v) return Corrupt("key " + key + " is not a float");
  if (!std::isfinite(*v)) return Corrupt("key " + key + " is not finite");
  return static_cast<float>(*v);
}

// A per-block f32 array (or one float for every block) of at least n entries, each >= 0.
Result<std::vector<float>> FloatPerBlock(const ModelFile& f, const char* suffix, int64_t n) {
  const std::string key = Key(suffix);
  if (auto one = f.GetFloat(key)) return std::vector<float>(n, static_cast<float>(*one));
  auto arr = f.GetFloatArray(key);
  if (!arr) return Corrupt("key " + key + " is missing or not a float array");
  if (static_cast<int64_t>(arr->size()) < n) {
    return Corrupt("key " + key + " has " + std::to_string(arr->size()) +
                   " entries, block_count is " + std::to_string(n));
  }
  std::vector<float> out(arr->begin(), arr->begin() + n);
  for (float v : out) {
    if (!(v >= 0.0f) || !std::isfinite(v)) return Corrupt("key " + key + ": negative value");
  }
  return out;
}

Status ReadAttention(const ModelFile& f, Ds4HParams* ds) {
  HParams& hp = ds->base;
  CACHET_ASSIGN_OR_RETURN(hp.n_head, Int(f, "attention.head_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(hp.n_head_kv, Int(f, "attention.head_count_kv", 1));
  if (hp.n_head_kv != 1) return Unsupported(Key("attention.head_count_kv") + " must be 1");
  CACHET_ASSIGN_OR_RETURN(hp.head_dim, Int(f, "attention.key_length", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(hp.head_dim_v, Int(f, "attention.value_length", hp.head_dim));
  if (hp.head_dim_v != hp.head_dim) {
    return Corrupt(Key("attention.value_length") + " differs from key_length (K = V in V4)");
  }
  CACHET_ASSIGN_OR_RETURN(hp.n_rot, Int(f, "rope.dimension_count", std::nullopt));
  if (hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim) {
    return Corrupt(Key("rope.dimension_count") + " must be even and <= key_length");
  }
  CACHET_ASSIGN_OR_RETURN(ds->q_lora_rank, Int(f, "attention.q_lora_rank", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->n_swa, Int(f, "attention.sliding_window", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->out_groups, Int(f, "attention.output_group_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->out_rank, Int(f, "attention.output_lora_rank", std::nullopt));
  if (hp.n_head % ds->out_groups != 0) {
    return Corrupt(Key("attention.output_group_count") + " does not divide head_count");
  }
  CACHET_ASSIGN_OR_RETURN(ds->compress_rope_base,
                          Float(f, "attention.compress_rope_freq_base", std::nullopt));
  if (ds->compress_rope_base <= 1.0f) {
    return Corrupt(Key("attention.compress_rope_freq_base") + " must be > 1");
  }
  return Status::Ok();
}

Status ReadRatios(const ModelFile& f, Ds4HParams* ds) {
  const std::string key = Key("attention.compress_ratios");
  auto arr = f.GetIntArray(key);
  if (!arr) return Corrupt("key " + key + " is missing or not an integer array");
  if (static_cast<int64_t>(arr->size()) < ds->n_layer_all) {
    return Corrupt("key " + key + " has " + std::to_string(arr->size()) +
                   " entries, block_count is " + std::to_string(ds->n_layer_all));
  }
  ds->ratios.assign(arr->begin(), arr->begin() + ds->n_layer_all);
  for (size_t i = 0; i < ds->ratios.size(); ++i) {
    const int64_t r = ds->ratios[i];
    if (r != kDs4Swa && r != kDs4Csa && r != kDs4Hca) {
      return Unsupported("key " + key + "[" + std::to_string(i) + "] = " + std::to_string(r) +
                         " (supported: 0, 4, 128)");
    }
  }
  if (!ds->HasCsa()) return Status::Ok();
  CACHET_ASSIGN_OR_RETURN(ds->indexer_heads, Int(f, "attention.indexer.head_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->indexer_dim, Int(f, "attention.indexer.key_length", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->indexer_top_k, Int(f, "attention.indexer.top_k", std::nullopt));
  if (ds->base.n_rot > ds->indexer_dim) {
    return Corrupt(Key("rope.dimension_count") + " > " + Key("attention.indexer.key_length"));
  }
  return Status::Ok();
}

Status ReadMoe(const ModelFile& f, Ds4HParams* ds) {
  CACHET_ASSIGN_OR_RETURN(ds->n_expert, Int(f, "expert_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->n_expert_used, Int(f, "expert_used_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds->n_expert_shared, Int(f, "expert_shared_count", 0, 0));
  CACHET_ASSIGN_OR_RETURN(ds->n_ff_exp, Int(f, "expert_feed_forward_length", std::nullopt));
  if (ds->n_expert_used > ds->n_expert)
    return Corrupt(Key("expert_used_count") + " > expert_count");
  CACHET_ASSIGN_OR_RETURN(ds->n_hash, Int(f, "hash_layer_count", 0, 0));
  if (ds->n_hash > ds->base.n_layer) return Corrupt(Key("hash_layer_count") + " > trunk layers");
  int64_t gating = 0;
  CACHET_ASSIGN_OR_RETURN(gating, Int(f, "expert_gating_func", std::nullopt, 0));
  if (gating != static_cast<int64_t>(ExpertGating::kSqrtSoftplus)) {
    return Unsupported(Key("expert_gating_func") + " = " + std::to_string(gating) +
                       " (deepseek4 needs 4, sqrt-softplus)");
  }
  CACHET_ASSIGN_OR_RETURN(ds->weights_scale, Float(f, "expert_weights_scale", std::nullopt));
  const std::string norm_key = Key("expert_weights_norm");
  auto norm = f.GetBool(norm_key);
  if (!norm) return Corrupt("key " + norm_key + " is missing or not a bool");
  ds->weights_norm = *norm;
  CACHET_ASSIGN_OR_RETURN(ds->clamp_exp, FloatPerBlock(f, "swiglu_clamp_exp", ds->n_layer_all));
  if (f.Has(Key("swiglu_clamp_shexp"))) {
    CACHET_ASSIGN_OR_RETURN(ds->clamp_shexp,
                            FloatPerBlock(f, "swiglu_clamp_shexp", ds->n_layer_all));
  } else {
    ds->clamp_shexp = ds->clamp_exp;
  }
  return Status::Ok();
}

Status ReadRopeAndMhc(const ModelFile& f, Ds4HParams* ds) {
  HParams& hp = ds->base;
  CACHET_ASSIGN_OR_RETURN(hp.rope_base, Float(f, "rope.freq_base", 10000.0f));
  if (hp.rope_base <= 1.0f) return Corrupt(Key("rope.freq_base") + " must be > 1");
  hp.rope_scaling = RopeScaling::kNone;
  if (f.Has(Key("rope.scaling.type"))) {
    auto s = f.GetString(Key("rope.scaling.type"));
    if (!s) return Corrupt("key " + Key("rope.scaling.type") + " is not a string");
    if (*s == "yarn") {
      hp.rope_scaling = RopeScaling::kYarn;
    } else if (*s != "none") {
      return Unsupported(Key("rope.scaling.type") + " '" + *s + "' (deepseek4: none or yarn)");
    }
  }
  CACHET_ASSIGN_OR_RETURN(hp.rope_factor, Float(f, "rope.scaling.factor", 1.0f));
  if (hp.rope_factor < 1.0f) hp.rope_factor = 1.0f;
  CACHET_ASSIGN_OR_RETURN(hp.rope_orig_ctx,
                          Int(f, "rope.scaling.original_context_length", hp.n_ctx_train));
  hp.yarn_ext_factor = hp.rope_scaling == RopeScaling::kYarn ? 1.0f : 0.0f;
  CACHET_ASSIGN_OR_RETURN(ds->hc, Int(f, "hyper_connection.count", 4));
  if (ds->hc > 16) return Unsupported(Key("hyper_connection.count") + " > 16");
  CACHET_ASSIGN_OR_RETURN(ds->n_sinkhorn, Int(f, "hyper_connection.sinkhorn_iterations", 20));
  CACHET_ASSIGN_OR_RETURN(ds->eps_hc, Float(f, "hyper_connection.epsilon", 1e-6f));
  if (!(ds->eps_hc >= 0.0f)) return Corrupt(Key("hyper_connection.epsilon") + " is negative");
  return Status::Ok();
}

}  // namespace

bool Ds4HParams::HasCsa() const {
  for (int64_t i = 0; i < base.n_layer && i < static_cast<int64_t>(ratios.size()); ++i) {
    if (ratios[i] == kDs4Csa) return true;
  }
  return false;
}

Result<Ds4HParams> ReadDeepSeek4HParams(const ModelFile& f) {
  Ds4HParams ds;
  HParams& hp = ds.base;
  hp.arch = kArch;
  CACHET_ASSIGN_OR_RETURN(hp.n_ctx_train, Int(f, "context_length", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(hp.n_embd, Int(f, "embedding_length", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds.n_layer_all, Int(f, "block_count", std::nullopt));
  CACHET_ASSIGN_OR_RETURN(ds.n_mtp, Int(f, "nextn_predict_layers", 0, 0));
  if (ds.n_mtp >= ds.n_layer_all) return Corrupt(Key("nextn_predict_layers") + " >= block_count");
  hp.n_layer = ds.n_layer_all - ds.n_mtp;
  const std::string eps_key = Key("attention.layer_norm_rms_epsilon");
  CACHET_ASSIGN_OR_RETURN(hp.norm_eps, Float(f, "attention.layer_norm_rms_epsilon", std::nullopt));
  if (!(hp.norm_eps > 0.0f && hp.norm_eps < 1.0f)) return Corrupt(eps_key + " out of range");
  CACHET_ASSIGN_OR_RETURN(hp.n_vocab, Int(f, "vocab_size", 0, 0));
  CACHET_RETURN_IF_ERROR(ReadAttention(f, &ds));
  CACHET_RETURN_IF_ERROR(ReadRatios(f, &ds));
  CACHET_RETURN_IF_ERROR(ReadMoe(f, &ds));
  CACHET_RETURN_IF_ERROR(ReadRopeAndMhc(f, &ds));
  hp.n_ff = ds.n_ff_exp;
  return ds;
}

std::vector<float> Ds4InvFreq(const Ds4HParams& ds, int64_t ratio) {
  HParams hp = ds.base;
  if (ratio == kDs4Swa) {
    hp.rope_scaling = RopeScaling::kNone;
    hp.rope_factor = 1.0f;
  } else {
    hp.rope_base = ds.compress_rope_base;
  }
  hp.yarn_beta_fast = 32.0f;
  hp.yarn_beta_slow = 1.0f;
  float mscale = 1.0f;  // the magnitude is 1 in every V4 layer (C.5): ignored
  return RopeInvFreq(hp, nullptr, &mscale);
}

}  // namespace cachet::model
