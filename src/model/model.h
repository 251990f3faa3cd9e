// Model: a loaded architecture that runs a batched forward pass over several sequences.
//
// One Forward() call processes a step: for every sequence, its new tokens at positions
// start_pos .. start_pos + n_tokens - 1. Matmuls run once over all tokens of the step (M = total
// tokens); attention runs per sequence over that sequence's KV blocks (kv_store.h addressing).
// The forward writes the new tokens' K/V into the blocks, so blocks must cover
// start_pos + n_tokens positions and hold the sequence's earlier positions already.
//
// Thread-safety: one Forward() at a time per Model (it reuses its activation buffers); the
// weights are immutable and may be shared. Kernels run on the given ThreadPool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/hparams.h"
#include "model/kv_store.h"
#include "model/model_file.h"
#include "model/sequence_state.h"

namespace cachet::model {

struct SeqBatch {
  const int32_t* tokens = nullptr;  // [n_tokens] ids < n_vocab
  int64_t n_tokens = 0;             // >= 1
  int64_t start_pos = 0;            // absolute position of tokens[0]
  void* const* k_blocks = nullptr;  // [n_layer * n_blocks]
  void* const* v_blocks = nullptr;  // [n_layer * n_blocks]
  int64_t n_blocks = 0;             // n_blocks * block_tokens >= start_pos + n_tokens
  bool all_logits = false;          // logits for every token (else the last one only)
  // Per-sequence state kept beside the blocks, for models that need one (deepseek4: sliding
  // window and compressor state; made by StatefulModel::NewPagedState, at position start_pos);
  // nullptr for the others. Not owned.
  SequenceState* state = nullptr;
};

// Convenience: a SeqBatch over a SequenceKv (reserve room first).
SeqBatch MakeSeqBatch(const SequenceKv& kv, const int32_t* tokens, int64_t n_tokens,
                      int64_t start_pos, bool all_logits = false);

class Model {
 public:
  virtual ~Model() = default;

  const HParams& hparams() const { return hparams_; }
  virtual KvLayout kv_layout() const = 0;
  // The file the weights live in (kept mapped for the Model's lifetime).
  const ModelFile& file() const { return *file_; }

  // Runs one step. On success returns logits, row-major [n_rows, n_vocab], rows in batch order
  // (each sequence contributes n_tokens rows if all_logits, else 1). The pointer is valid until
  // the next Forward(). Errors: InvalidArgument naming the sequence for a bad token id, empty
  // sequence, or blocks that do not cover the positions; nothing is written in that case.
  virtual Result<const float*> Forward(std::span<const SeqBatch> batch, ThreadPool* pool) = 0;

 protected:
  Model(std::shared_ptr<const ModelFile> file, HParams hp)
      : file_(std::move(file)), hparams_(std::move(hp)) {}
  std::shared_ptr<const ModelFile> file_;
  HParams hparams_;
};

// Validates a step for Forward(): non-empty sequences, positions in range, KV blocks covering
// them (V blocks only when the layout has V), token ids < n_vocab. Counts the step's tokens and
// logit rows. Errors name the sequence ("batch[2]: ...").
Status CheckSeqBatches(std::span<const SeqBatch> batch, const KvLayout& kv, int64_t n_vocab,
                       int64_t* n_tok, int64_t* n_out);

// Architecture registry: one entry per general.architecture string (arch/registry.cc lists them).
struct ArchEntry {
  std::string name;  // "llama"
  // Reads hparams, validates every tensor's shape (errors name the tensor) and builds the model.
  std::function<Result<std::unique_ptr<Model>>(std::shared_ptr<const ModelFile>)> load;
};
const std::vector<ArchEntry>& Architectures();

// Loads a model from an opened file: dispatches on general.architecture. Errors: Corrupt when
// the key is missing, Unsupported for an unknown architecture, else the architecture's errors.
Result<std::unique_ptr<Model>> LoadModel(std::shared_ptr<const ModelFile> file);
// Opens `path` (GGUF, mapped, zero-copy) and loads it. Defined in gguf_model_file.cc.
Result<std::unique_ptr<Model>> LoadModelFromPath(const std::string& path);

}  // namespace cachet::model
