// Token sampling: penalties, greedy, temperature, top-k, top-p, min-p, seeded draws.
//
// Order of the chain (fixed, documented so results are reproducible):
//   1. penalties over `history` (repetition: CTRL-style divide/multiply; frequency: -count*f;
//      presence: -[count>0]*p),
//   2. temperature <= 0 -> greedy argmax (ties: lowest id), done,
//   3. top-k (k > 0) keeps the k highest logits (ties broken by lower id),
//   4. softmax of logit / temperature over the survivors,
//   5. top-p keeps the smallest prefix (by descending probability) whose mass reaches p
//      (always at least one token),
//   6. min-p drops tokens whose probability is below min_p * max probability,
//   7. one draw from the renormalized survivors with the sampler's own RNG.
// The RNG is our own xoshiro256** seeded through splitmix64, so one seed gives the same tokens on
// every platform and standard library.
//
// Thread-safety: a Sampler is used by one thread (one per sequence). No allocation per call once
// its candidate buffer has grown to the vocabulary size.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cachet::sampling {

// xoshiro256** with splitmix64 seeding.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double NextDouble();

 private:
  uint64_t s_[4];
};

struct SamplingParams {
  float temperature = 1.0f;         // <= 0: greedy
  int32_t top_k = 0;                // <= 0: off
  float top_p = 1.0f;               // >= 1: off
  float min_p = 0.0f;               // <= 0: off
  float repetition_penalty = 1.0f;  // 1: off; > 1 discourages repeats
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  int32_t penalty_last_n = 64;  // penalties look at this many last tokens of history; -1 all
  uint64_t seed = 0;
};

struct Candidate {
  int32_t id;
  float logit;
  float p;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from logits[0..n_vocab) given the tokens so far (prompt + generated).
  // Ids in history outside [0, n_vocab) are ignored. n_vocab must be > 0.
  int32_t Sample(const float* logits, int32_t n_vocab, std::span<const int32_t> history);

  // The survivors of steps 1-6 of the last Sample() call, most probable first, with p
  // renormalized (empty after a greedy call). For tests and logprobs.
  const std::vector<Candidate>& candidates() const { return cand_; }
  const SamplingParams& params() const { return params_; }

 private:
  bool HasPenalties() const;
  void ApplyPenalties(std::span<const int32_t> history, int32_t n_vocab);
  int32_t Greedy() const;
  void Truncate();

  SamplingParams params_;
  Rng rng_;
  std::vector<Candidate> cand_;
  std::vector<int32_t> counts_;  // scratch for penalties, zeroed after use
};

}  // namespace cachet::sampling
