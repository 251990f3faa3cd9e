// `deepseek2` (DeepSeek-V2, V2-Lite, V2.5, V3, R1, V3.1, Kimi-K2 and other MLA + DeepSeekMoE
// models): ../shared/specs/deepseek.md Part A.
//
// Forward of one step: embed; per layer MLA (q with or without the low-rank projection, one
// latent + one RoPE key per token written to the cache, attention by the absorbed or the
// expanded path per sequence) and a dense FFN (leading layers) or DeepSeekMoE; final norm and
// output. MTP (nextn) blocks are loaded, validated, and run only through MtpSource::ForwardMtp
// (speculative decoding: model/speculative.h).
#pragma once

#include <memory>

#include "model/model.h"
#include "tensor/dtype.h"

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

// Multi-token prediction (deepseek.md A.9): the draft block a deepseek2 file may carry after
// its trunk. A Model loaded from such a file also implements MtpSource (dynamic_cast).
// Thread-safety: as Model::Forward (one call at a time; shares the model's buffers).
class MtpSource {
 public:
  virtual ~MtpSource() = default;
  // Number of MTP blocks in the file (0: no drafting possible; ForwardMtp fails).
  virtual int64_t mtp_blocks() const = 0;
  // Layout of the MTP block's own latent cache (one layer).
  virtual KvLayout mtp_kv_layout() const = 0;
  // Normalised final hidden states [n_rows, d] of the logit rows of the last Forward() or
  // ForwardMtp() (trunk: after output_norm; MTP: after shared_head_norm). Valid until the next
  // call of either.
  virtual const float* last_hidden() const = 0;
  // Runs MTP block 0 for one sequence: token b.tokens[t] at position b.start_pos + t, with
  // h_prev [b.n_tokens, d] the hidden state of the position before each token (from the trunk,
  // or from the previous MTP step when chaining). b's blocks are the MTP cache (mtp_kv_layout);
  // entries for the chunk's positions are written. Returns logits [rows, V] for the next
  // positions (rows as in Forward). Errors: Unsupported without MTP blocks, InvalidArgument
  // for a null h_prev, else those of Forward.
  virtual Result<const float*> ForwardMtp(const SeqBatch& b, const float* h_prev,
                                          ThreadPool* pool) = 0;
};

// Reads hparams (ReadDeepSeekHParams), validates every tensor (errors name it) and builds the
// model. Errors: those of ReadDeepSeekHParams; Corrupt for a missing or misshapen tensor;
// Unsupported for fused ffn_gate_up_exps and MTP blocks with their own embedding / head;
// InvalidArgument for a kv_type other than f16, bf16, f32. Legacy files (attn_kv_b) load: the
// transposed K part is built once (f32, or q8_0 for quantized files), V is used in place.
Result<std::unique_ptr<Model>> LoadDeepSeek2(std::shared_ptr<const ModelFile> file,
                                             const DeepSeek2Options& options = {});

}  // namespace cachet::model
