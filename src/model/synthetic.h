// Synthetic models: named presets of llama-family shapes filled with seeded random weights.
//
// Used by `cachet make-model` (written to GGUF with the project's writer) and by tests (loaded
// straight from memory through InMemoryModelFile, no file needed). Weights are uniform with
// variance 1/fan_in (so activations keep their scale through the layers and logits are not
// degenerate); norms are 1 + small noise; biases small. Random numbers come from our own
// generator keyed by (seed, tensor, row), so a preset + seed gives the same bytes on every
// machine and any thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model_file.h"
#include "tensor/dtype.h"

namespace cachet::gguf {
class Writer;
}  // namespace cachet::gguf

namespace cachet::model {

// deepseek2 / deepseek32 dimensions (deepseek.md A.2-A.4, B.1); used only for those archs.
struct DeepSeekDims {
  int64_t q_lora_rank = 0;  // 0: attn_q (V2-Lite style), else attn_q_a / attn_q_a_norm / attn_q_b
  int64_t kv_lora_rank = 0, qk_nope = 0, qk_rope = 0, v_head = 0;
  int64_t n_dense = 0;  // leading dense layers (width Preset::n_ff)
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0, n_ff_exp = 0;
  int64_t n_group = 1, n_group_used = 1;
  uint32_t gating = 1;  // 1 softmax, 2 sigmoid
  bool weights_norm = false;
  float weights_scale = 1.0f;
  bool score_bias = false;   // exp_probs_b.bias
  float yarn_factor = 0.0f;  // 0: no rope scaling
  int64_t yarn_orig_ctx = 4096;
  float mscale_all_dim = 1.0f;  // written as yarn_log_multiplier = 0.1 * M
  int64_t n_mtp = 0;            // MTP (nextn) blocks after the trunk
  bool legacy_kv_b = false;     // pre-MLA conversion: attn_kv_b, no *_mla keys (A.5.1)
  // arch "deepseek32": lightning indexer (Part B); the trunk layers get indexer.* tensors.
  int64_t indexer_heads = 0, indexer_dim = 0, indexer_top_k = 0;
};

// deepseek4 dimensions (deepseek.md C.2-C.3); used only for that arch. Per-layer attention
// kinds in `ratios` (0 SWA, 4 CSA with indexer, 128 HCA); Preset::head_dim is D (K = V),
// Preset::n_ff unused.
struct Ds4Dims {
  int64_t q_lora_rank = 0, rope_dim = 0, n_swa = 0, out_groups = 0, out_rank = 0;
  std::vector<int32_t> ratios;  // one per trunk layer
  int64_t indexer_heads = 0, indexer_dim = 0, indexer_top_k = 0;
  int64_t hc = 4, n_sinkhorn = 20, n_hash = 0;
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0, n_ff_exp = 0;
  float weights_scale = 1.5f, clamp_exp = 10.0f, clamp_shexp = 10.0f;
  float compress_rope_base = 160000.0f, yarn_factor = 0.0f;  // 0: no YaRN
  int64_t yarn_orig_ctx = 0;
};

struct Preset {
  std::string name;               // "llama-tiny"
  std::string arch;               // "llama", "qwen2", "qwen3"
  std::string default_tokenizer;  // "llama3" or "qwen3" (folder under shared/tokenizers)
  int64_t n_vocab = 0;            // used when no tokenizer fixes it
  int64_t n_ctx = 0;
  int64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
  float rope_base = 10000.0f;
  float norm_eps = 1e-5f;
  bool tied = true;
  bool qkv_bias = false;
  bool qk_norm = false;
  // Llama-3 rope scaling written as rope_freqs.weight (llama-family.md §5.4); factor 0 = none.
  float llama3_factor = 0, llama3_low = 1, llama3_high = 4;
  int64_t llama3_orig_ctx = 8192;
  DeepSeekDims ds;  // arch "deepseek2" only
  Ds4Dims ds4;      // arch "deepseek4" only
};

// All presets, and one by name (nullptr if unknown).
const std::vector<Preset>& Presets();
const Preset* FindPreset(const std::string& name);

using MetaValue =
    std::variant<uint32_t, float, bool, std::string, std::vector<int32_t>, std::vector<float>>;

struct SyntheticTensor {
  std::string name;
  DType type;
  std::vector<int64_t> ne;
  std::vector<uint8_t> data;
};

struct SyntheticModel {
  std::vector<std::pair<std::string, MetaValue>> meta;
  std::vector<SyntheticTensor> tensors;
};

// Generates the model. `type` is the weight type for matrices; a tensor whose row length is not
// a multiple of that type's block falls back to q8_0 (or f16 when not a multiple of 32); norms
// and rope_freqs stay f32. `n_vocab` overrides the preset's (the tokenizer's size), 0 = keep.
// Errors: InvalidArgument for a type the quantizer cannot write.
Result<SyntheticModel> MakeSyntheticModel(const Preset& preset, DType type, uint64_t seed,
                                          int64_t n_vocab, ThreadPool* pool);

// The type actually used for a matrix with rows of `k` values when `wanted` was asked for.
DType FallbackType(DType wanted, int64_t k);

// Adds the metadata and tensors to a GGUF writer (moving the tensor bytes, no copy). The caller
// adds the tokenizer metadata and writes the file. Defined in gguf_model_file.cc.
Status AddSyntheticToGguf(SyntheticModel model, gguf::Writer* w);

// A ModelFile over a SyntheticModel (takes ownership; tensor data pointers into it).
std::unique_ptr<ModelFile> InMemoryModelFile(SyntheticModel model);

}  // namespace cachet::model
