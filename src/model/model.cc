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

Status CheckSeqBatches(std::span<const SeqBatch> batch, const KvLayout& kv, int64_t n_vocab,
                       int64_t* n_tok, int64_t* n_out) {
  if (batch.empty()) return InvalidArgument("empty batch");
  *n_tok = 0;
  *n_out = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SeqBatch& b = batch[s];
    auto where = [s] { return "batch[" + std::to_string(s) + "]"; };  // built only on error
    if (b.n_tokens <= 0 || b.tokens == nullptr) return InvalidArgument(where() + ": no tokens");
    if (b.start_pos < 0 || b.start_pos + b.n_tokens > (int64_t{1} << 30)) {
      return InvalidArgument(where() + ": start_pos out of range");
    }
    if (b.k_blocks == nullptr || (kv.v_dim() > 0 && b.v_blocks == nullptr) ||
        b.n_blocks * kv.block_tokens < b.start_pos + b.n_tokens) {
      return InvalidArgument(where() + ": KV blocks do not cover the positions");
    }
    for (int64_t t = 0; t < b.n_tokens; ++t) {
      if (b.tokens[t] < 0 || b.tokens[t] >= n_vocab) {
        return InvalidArgument(where() + ": token id " + std::to_string(b.tokens[t]) +
                               " out of range");
      }
    }
    *n_tok += b.n_tokens;
    *n_out += b.all_logits ? b.n_tokens : 1;
  }
  return Status::Ok();
}

}  // namespace cachet::model
