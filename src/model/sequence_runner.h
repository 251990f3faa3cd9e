// SequenceRunner: feeds one sequence through any Model, whichever cache it uses: the paged
// SequenceKv (Model::Forward) or a per-sequence state (StatefulModel, e.g. deepseek4). For the
// single-sequence tools (`cachet logits`, `cachet run`) and tests.
//
// Not thread-safe; one runner per sequence, the Model must outlive it.
#pragma once

#include <cstdint>
#include <memory>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/kv_store.h"
#include "model/model.h"
#include "model/sequence_state.h"

namespace cachet::model {

// For the serving engine: the state a sequence of `m` needs beside its pool blocks in
// Model::Forward (SeqBatch::state), or nullptr when the model needs none (every paged model but
// deepseek4). Create one per request when it starts at position 0 (after a preemption too:
// a state cannot roll back) and keep it with the request. Errors: those of NewPagedState.
// Models that need one also cannot reuse prefix-cache blocks (the state at the block boundary
// is not in the blocks).
Result<std::unique_ptr<SequenceState>> NewPagedSequenceState(Model& m);

class SequenceRunner {
 public:
  // ResourceExhausted when a stateful model cannot allocate the sequence's state.
  static Result<std::unique_ptr<SequenceRunner>> Create(Model& m);

  // Appends n tokens (positions n_tokens() ..); returns logits [rows, n_vocab] (every token's
  // row if all_logits, else the last) valid until the next call. Errors: those of the model's
  // forward (InvalidArgument for bad ids), ResourceExhausted for KV allocation; the sequence is
  // unchanged on error.
  Result<const float*> Feed(const int32_t* ids, int64_t n, bool all_logits, ThreadPool* pool);
  int64_t n_tokens() const;

 private:
  explicit SequenceRunner(Model& m) : m_(m), kv_(m.kv_layout()) {}
  Model& m_;
  StatefulModel* stateful_ = nullptr;
  std::unique_ptr<SequenceState> state_;
  SequenceKv kv_;
};

}  // namespace cachet::model
