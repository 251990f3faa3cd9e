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

}  // namespace cachet::model
