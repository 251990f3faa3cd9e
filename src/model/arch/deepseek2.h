// `deepseek2` (DeepSeek-V2, V2-Lite, V2.5, V3, R1, V3.1, Kimi-K2 and other MLA + DeepSeekMoE
// models): ../shared/specs/deepseek.md Part A.
//
// Forward of one step: embed; per layer MLA (q with or without the low-rank projection, one
// latent + one RoPE key per token written to the cache, attention by the absorbed or the
// expanded path per sequence) and a dense FFN (leading layers) or DeepSeekMoE; final norm and
// output. MTP (nextn) blocks are loaded and validated but not run by Forward().
#pragma once

#include <memory>

#include "tensor/dtype.h"

#include "model/model.h"

namespace cachet::model {

enum class MlaPath {
  kAuto,      // per sequence chunk by cost: MlaUseExpanded() (mla_attention.h)
  kAbsorbed,  // always attend over the latent cache
  kExpanded,  // always decompress K/V (tests compare the two paths)
};

struct DeepSeek2Options {
  MlaPath mla_path = MlaPath::kAuto;
  // Element type of the latent cache: f16 (default), bf16 or f32 (tests: with f32 the two
  // attention paths agree to f32 rounding; with f16, rounding flips make them differ ~1e-4).
  DType kv_type = DType::kF16;
};

// Reads hparams (ReadDeepSeekHParams), validates every tensor (errors name it) and builds the
// model. Errors: those of ReadDeepSeekHParams; Corrupt for a missing or misshapen tensor;
// Unsupported for legacy attn_kv_b files and fused ffn_gate_up_exps; InvalidArgument for a
// kv_type other than f16, bf16, f32.
Result<std::unique_ptr<Model>> LoadDeepSeek2(std::shared_ptr<const ModelFile> file,
                                             const DeepSeek2Options& options = {});

}  // namespace cachet::model
