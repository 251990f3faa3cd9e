// HParams: the hyper-parameters of a transformer read from GGUF metadata
// (../shared/specs/llama-family.md §2), with the documented defaults applied and checked for
// consistency. Shared by all architectures; an architecture may read extra keys of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model_file.h"

namespace cachet::model {

enum class RopeScaling { kNone, kLinear, kYarn };

struct HParams {
  std::string arch;     // general.architecture
  int64_t n_vocab = 0;  // {arch}.vocab_size, else token_embd ne1
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;      // d
  int64_t n_layer = 0;     // L
  int64_t n_head = 0;      // H
  int64_t n_head_kv = 0;   // H_kv (default H)
  int64_t head_dim = 0;    // d_k (default d / H)
  int64_t head_dim_v = 0;  // d_v (default d / H)
  int64_t n_ff = 0;
  int64_t n_rot = 0;  // rotated dims per head (default d_k)
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
  RopeScaling rope_scaling = RopeScaling::kLinear;
  float rope_factor = 1.0f;       // s (1 = no scaling)
  int64_t rope_orig_ctx = 0;      // YaRN n_orig (default n_ctx_train)
  float rope_attn_factor = 1.0f;  // a_rope
  float yarn_ext_factor = 0.0f;   // 1 for yarn, else 0
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t v_dim() const { return n_head_kv * head_dim_v; }
};

// Reads the llama-family keys for `arch` from the file. Errors: Corrupt naming the key for a
// missing required key, a wrong type, a per-layer array of the wrong length, or an inconsistent
// value (H not a multiple of H_kv, n_rot odd or > d_k, zero sizes); Unsupported for per-layer
// arrays whose values differ or for an unknown rope scaling type.
Result<HParams> ReadHParams(const ModelFile& f, const std::string& arch);

// Inverse frequencies [n_rot/2] for RoPE with all scaling folded in (llama-family.md §5):
// inv_freq[j] = base^(-2j/n_rot) / rope_freqs[j] (when given) adjusted by linear or YaRN
// scaling. *mscale receives the YaRN magnitude (1 otherwise).
std::vector<float> RopeInvFreq(const HParams& hp, const float* rope_freqs, float* mscale);

std::string RopeScalingName(RopeScaling s);

// DeepSeek-V2/V3 (`deepseek2`) hyper-parameters (../shared/specs/deepseek.md A.2-A.7), on top of
// the shared ones in `base`. base.n_layer is the trunk (block_count - nextn_predict_layers);
// base.head_dim = d_qk, base.head_dim_v = d_v, base.n_rot = r, base.n_head_kv = 1 (MLA files).
// Expert scores, valued as GGUF expert_gating_func: softmax 1, sigmoid 2 (deepseek2),
// sqrt(softplus) 4 (deepseek4, C.2 / C.9; not accepted for deepseek2 files).
enum class ExpertGating { kSoftmax = 1, kSigmoid = 2, kSqrtSoftplus = 4 };

struct DeepSeekHParams {
  HParams base;
  int64_t n_layer_all = 0;    // block_count, MTP blocks included
  int64_t n_mtp = 0;          // nextn_predict_layers (blocks n_layer .. n_layer_all-1)
  int64_t q_lora_rank = 0;    // r_q; 0 = no query compression (attn_q)
  int64_t kv_lora_rank = 0;   // r_kv
  int64_t qk_nope_dim = 0;    // d_nope = d_qk - r
  int64_t qk_rope_dim = 0;    // r
  int64_t v_head_dim = 0;     // d_v
  int64_t n_dense = 0;        // leading_dense_block_count
  int64_t n_expert = 0;       // E
  int64_t n_expert_used = 0;  // k
  int64_t n_expert_shared = 0;
  int64_t n_ff_exp = 0;        // width of one routed (and one shared) expert
  int64_t n_group = 1;         // expert_group_count (<= 1: no group-limited routing)
  int64_t n_group_used = 1;    // expert_group_used_count
  ExpertGating gating = ExpertGating::kSoftmax;
  bool weights_norm = false;   // expert_weights_norm
  float weights_scale = 1.0f;  // expert_weights_scale (routed scaling factor; 0 in file -> 1)
  float mscale_all_dim = 0.0f;  // M = yarn_log_multiplier / 0.1 (0 when absent)
  bool legacy_kv_b = false;     // no *_mla keys: attn_kv_b instead of attn_k_b / attn_v_b
  // deepseek32 lightning indexer (deepseek.md Part B); 0 heads = none (deepseek2).
  int64_t indexer_heads = 0, indexer_dim = 0, indexer_top_k = 0;

  int64_t qk_head_dim() const { return qk_nope_dim + qk_rope_dim; }  // d_qk
  int64_t kv_cache_dim() const { return kv_lora_rank + qk_rope_dim; }  // latent + rope key
  // YaRN attention-scale factor g(s, M)^2 (A.6); 1 without YaRN.
  float attn_mscale_sq() const;
  // Logit scale sigma = g(s, M)^2 / sqrt(d_qk).
  float attn_scale() const;
};

// Reads the deepseek2 keys (prefix `arch`); for arch "deepseek32" also the indexer keys
// (required, with q_lora_rank > 0, an MLA file and rope dims <= indexer key_length). Errors: Corrupt naming the key for a missing
// required key, a wrong type or an inconsistent value (r odd or >= d_qk, k > E, groups that do
// not divide E, k_grp > n_grp, nextn >= block_count, unknown gating id); Unsupported for a YaRN
// file without yarn_log_multiplier (spec A.6 edge case). Legacy files (no key_length_mla /
// value_length_mla) take d_qk / d_v from key_length / value_length and set legacy_kv_b.
Result<DeepSeekHParams> ReadDeepSeekHParams(const ModelFile& f, const std::string& arch);

}  // namespace cachet::model
