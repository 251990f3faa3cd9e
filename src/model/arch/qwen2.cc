// `qwen2` (Qwen2, Qwen2.5, QwQ, DeepSeek-R1-Distill-Qwen): llama-family.md §6.2.
// NEOX RoPE and q/k/v biases (required).
#include "model/arch/arch.h"
#include "model/dense_transformer.h"

namespace cachet::model::arch {

void RegisterQwen2(std::vector<ArchEntry>* out) {
  DenseArchTraits t;
  t.name = "qwen2";
  t.rope_mode = kernels::RopeMode::kNeox;
  t.qkv_bias_required = true;
  out->push_back({t.name, [t](std::shared_ptr<const ModelFile> f) {
                    return LoadDenseTransformer(t, std::move(f));
                  }});
}

}  // namespace cachet::model::arch
