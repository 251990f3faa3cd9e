// TokenPicker: turns one row of logits into a request's next token — constraint mask, the
// sampler chain (sampling/sampler.h), and the reported logprobs.
//
// Logprobs are the model's own distribution: log-softmax of the raw logits row, before
// penalties, temperature, top-k/p and the constraint mask (what OpenAI-style APIs report).
// Alternatives are ordered by logit, ties by lower id. The draw itself uses the masked logits, so
// a constrained request never gets a token its constraint refused.
//
// Thread-safety: none; one per request, used by the engine thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/engine.h"
#include "sampling/sampler.h"

namespace cachet::engine {

class TokenPicker {
 public:
  // `seed` is used as given (the engine derives one when the request has none).
  TokenPicker(const SamplingOptions& options, uint64_t seed,
              std::shared_ptr<TokenConstraint> constraint, int64_t n_vocab);

  // Picks from logits[0, n_vocab). `generated` are the tokens generated so far (the penalties
  // look at these only). Returns false when the constraint allows no token (out untouched).
  bool Pick(const float* logits, std::span<const int32_t> generated, GeneratedToken* out);
  // The constraint's Done(), false without one.
  bool constraint_done() const { return constraint_ != nullptr && constraint_->Done(); }

 private:
  void FillLogprobs(const float* logits, GeneratedToken* out);

  SamplingOptions options_;
  std::shared_ptr<TokenConstraint> constraint_;
  int64_t n_vocab_;
  sampling::Sampler sampler_;
  std::vector<float> masked_;   // logits with refused tokens at -inf (constraint only)
  std::vector<uint8_t> mask_;
  std::vector<int32_t> order_;  // scratch for top alternatives
};

}  // namespace cachet::engine
