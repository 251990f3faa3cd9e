#include "model/model.h"

namespace cachet::model {

SeqBatch MakeSeqBatch(const SequenceKv& kv, const int32_t* tokens, int64_t n_tokens,
                      int64_t start_pos, bool all_logits) {
  SeqBatch b;
  b.tokens = tokens;
  b.n_tokens = n_tokens;
  b.start_pos = start_pos;
  b.k_blocks = kv.k_blocks();
  b.v_blocks = kv.v_blocks();
  b.n_blocks = kv.n_blocks();
  b.all_logits = all_logits;
  return b;
}

Result<std::unique_ptr<Model>> LoadModel(std::shared_ptr<const ModelFile> file) {
  auto arch = file->GetString("general.architecture");
  if (!arch) return Corrupt(file->path() + ": missing key general.architecture");
  for (const auto& e : Architectures()) {
    if (e.name == *arch) {
      auto r = e.load(file);
      if (!r.ok()) return r.status().WithContext(file->path());
      return r;
    }
  }
  return Unsupported(file->path() + ": architecture '" + *arch + "'");
}

}  // namespace cachet::model
