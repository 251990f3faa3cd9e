// DenseTransformer: the llama-family forward pass (llama-family.md §4), shared by the llama,
// qwen2 and qwen3 architecture files, which differ only in DenseArchTraits.
//
// Per step: embed all tokens; per layer RMSNorm -> Q/K/V matmuls over all T tokens (+ biases)
// -> optional per-head Q/K RMSNorm -> RoPE -> K/V written into each sequence's blocks ->
// attention per sequence -> output projection accumulated into the residual -> RMSNorm ->
// gate/up matmuls -> SwiGLU -> down projection accumulated into the residual; final RMSNorm and
// the output matrix (token_embd when tied) only for rows that need logits.
#pragma once

#include <memory>
#include <string>

#include "kernels/kernels.h"
#include "model/model.h"

namespace cachet::model {

struct DenseArchTraits {
  std::string name;  // general.architecture
  kernels::RopeMode rope_mode = kernels::RopeMode::kNorm;
  bool qkv_bias_required = false;  // qwen2: biases must be present (else optional)
  bool qk_norm = false;            // qwen3: attn_q_norm / attn_k_norm required
};

// Reads hparams, validates every tensor (errors name the tensor), and builds the model.
Result<std::unique_ptr<Model>> LoadDenseTransformer(const DenseArchTraits& traits,
                                                    std::shared_ptr<const ModelFile> file);

}  // namespace cachet::model
