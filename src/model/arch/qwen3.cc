// `qwen3` (Qwen3 dense): llama-family.md §6.3. NEOX RoPE, per-head RMSNorm on q and k (shared
// weights of length d_k) before RoPE; q width H*d_k may differ from d.
#include "model/arch/arch.h"
#include "model/dense_transformer.h"

namespace cachet::model::arch {

void RegisterQwen3(std::vector<ArchEntry>* out) {
  DenseArchTraits t;
  t.name = "qwen3";
  t.rope_mode = kernels::RopeMode::kNeox;
  t.qk_norm = true;
  out->push_back({t.name, [t](std::shared_ptr<const ModelFile> f) {
                    return LoadDenseTransformer(t, std::move(f));
                  }});
}

}  // namespace cachet::model::arch
