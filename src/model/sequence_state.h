// Models whose cache is per-sequence state rather than rows in the engine's paged block pool
// (deepseek4: sliding window, compressor state, compressed entries; docs/models/deepseek.md).
//
// Such a Model also implements StatefulModel (dynamic_cast). Its Model::Forward() fails with
// InvalidArgument unless each SeqBatch carries its sequence's state (SeqBatch::state, made by
// NewPagedState): the compressed entries then live in the paged pool blocks and the state holds
// the rest. Callers that pass no state (the serving engine today) get that clear error.
// `cachet logits` / `cachet run` and tests use ForwardState() (entries in the state itself).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "base/status.h"
#include "base/thread_pool.h"

namespace cachet::model {

// One sequence's cache. Created by StatefulModel::NewState; owned by the caller; used by one
// Forward at a time. It cannot be rolled back: the pending compressor state is not recomputable
// from what is cached (deepseek.md C.6), so speculative decoding needs snapshots (not yet).
class SequenceState {
 public:
  virtual ~SequenceState() = default;
  // Positions processed so far (the next token's position).
  virtual int64_t n_tokens() const = 0;
  // Bytes this state holds right now (fixed part plus what grows with n_tokens).
  virtual int64_t allocated_bytes() const = 0;
};

struct StateBatch {
  SequenceState* state = nullptr;   // from this model's NewState()
  const int32_t* tokens = nullptr;  // [n_tokens] ids < n_vocab
  int64_t n_tokens = 0;             // >= 1; positions state->n_tokens() ...
  bool all_logits = false;          // logits for every token (else the last one only)
};

// What a sequence's cache costs: fixed bytes per sequence (window, compressor state) plus an
// amortised number of bytes per token (compressed entries), as `cachet inspect` reports it.
struct StateKvCost {
  int64_t fixed_bytes = 0;
  double bytes_per_token = 0;
};

class StatefulModel {
 public:
  virtual ~StatefulModel() = default;
  // A fresh, empty sequence state. ResourceExhausted when its fixed part cannot be allocated.
  virtual Result<std::unique_ptr<SequenceState>> NewState() const = 0;
  // A state for Model::Forward: it holds only what cannot live in pool blocks; the blocks
  // (Model::kv_layout) hold the rest. Unsupported when the model's entries do not fit blocks.
  virtual Result<std::unique_ptr<SequenceState>> NewPagedState() const = 0;
  // Runs one step: every state advances by its n_tokens (on success only; on error the states
  // are unchanged when the error is about the input, InvalidArgument naming the sequence).
  // Returns logits [n_rows, n_vocab] in batch order, valid until the next call.
  virtual Result<const float*> ForwardState(std::span<const StateBatch> batch,
                                            ThreadPool* pool) = 0;
  virtual StateKvCost kv_cost() const = 0;
};

}  // namespace cachet::model
