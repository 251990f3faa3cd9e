// `llama` (Llama 1/2/3.x, Mistral-7B, DeepSeek-R1-Distill-Llama): llama-family.md §6.1.
// NORM RoPE (the converter already permuted q/k rows), optional biases, optional rope_freqs.
#include "model/arch/arch.h"
#include "model/dense_transformer.h"

namespace cachet::model::arch {

void RegisterLlama(std::vector<ArchEntry>* out) {
  DenseArchTraits t;
  t.name = "llama";
  t.rope_mode = kernels::RopeMode::kNorm;
  out->push_back({t.name, [t](std::shared_ptr<const ModelFile> f) {
                    return LoadDenseTransformer(t, std::move(f));
                  }});
}

}  // namespace cachet::model::arch
