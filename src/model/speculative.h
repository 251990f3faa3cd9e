// Greedy speculative decoding with a deepseek2 file's MTP block as the drafter
// (../shared/specs/deepseek.md A.9), as a standalone API over one sequence.
//
// One round, with `next` the trunk's greedy token at position p (not yet in the trunk cache):
//   draft   the MTP block proposes d_1..d_k: d_1 from (next, trunk hidden of p-1) at position p,
//           d_i from (d_{i-1}, the MTP's own previous hidden) at position p+i-1 (chained);
//   verify  ONE trunk step over [next, d_1..d_k] at positions p..p+k (all logits) gives the
//           greedy predictions g_0..g_k; the longest prefix with d_i == g_{i-1} is accepted;
//           the round emits d_1..d_j and the new next = g_j;
//   refresh the MTP cache for positions p+1..p+j+1 is rewritten from the trunk's hidden states
//           (one MTP step over [d_1..d_j, g_j]), whose last row also gives the next d_1.
// Rejected positions need no rollback: both caches are addressed by position and the stale
// rows are overwritten before any query can see them.
//
// Output equals plain greedy decoding (GreedyDecode) exactly when the trunk's logits for a
// position do not depend on how many tokens share the step (true for the reference kernels and
// the absorbed MLA path; batch-variant fast kernels can break exact ties differently).
//
// Engine adoption: a round is Draft (k MTP steps of one token) + Verify (a k+1 token chunk,
// schedulable like a prefill chunk) + Refresh (a j+1 token MTP chunk); the per-sequence state
// is the two caches, `next` and the last hidden state.
//
// Thread-safety: one object per sequence; calls run the model (one Forward at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"

namespace cachet::model {

class MtpSource;

struct SpecStats {
  int64_t rounds = 0;    // verify steps
  int64_t drafted = 0;   // draft tokens proposed
  int64_t accepted = 0;  // draft tokens accepted
  double acceptance() const { return drafted ? static_cast<double>(accepted) / drafted : 0.0; }
};

struct SpecOptions {
  int64_t draft_tokens = 2;  // k >= 1
  // Test seam: replaces each drafted token (pos = the position the token is drafted for).
  std::function<int32_t(int64_t pos, int32_t drafted)> draft_hook;
};

class MtpSpeculator {
 public:
  // `m` must outlive the speculator and implement MtpSource with mtp_blocks() >= 1.
  // Errors: Unsupported when it does not; InvalidArgument for draft_tokens < 1.
  static Result<std::unique_ptr<MtpSpeculator>> Create(Model* m, SpecOptions options);

  // Prefills `prompt` and returns the next n_new greedy tokens (no stop tokens). Errors: those
  // of Model::Forward (bad token ids, ...), ResourceExhausted from the caches.
  Result<std::vector<int32_t>> Generate(std::span<const int32_t> prompt, int64_t n_new,
                                        ThreadPool* pool);
  const SpecStats& stats() const { return stats_; }

 private:
  MtpSpeculator(Model* m, MtpSource* mtp, SpecOptions o);
  Status Draft(int64_t pos, ThreadPool* pool);
  Status Refresh(std::span<const int32_t> toks, int64_t pos0, const float* h_prev,
                 ThreadPool* pool);

  Model* m_;
  MtpSource* mtp_;
  SpecOptions opt_;
  SpecStats stats_;
  int64_t d_ = 0, n_vocab_ = 0;
  std::unique_ptr<SequenceKv> kv_, mtp_kv_;
  int32_t first_draft_ = 0;      // d_1 of the coming round
  std::vector<float> h_mtp_;     // MTP hidden of the last MTP row (for chaining)
  std::vector<int32_t> drafts_;  // d_1..d_k of the current round
};

// Plain greedy decoding, one token per step: the baseline MtpSpeculator must reproduce.
Result<std::vector<int32_t>> GreedyDecode(Model& m, std::span<const int32_t> prompt, int64_t n_new,
                                          ThreadPool* pool);

// Index of the largest logit; ties go to the lowest id.
int32_t ArgMax(const float* logits, int64_t n);

}  // namespace cachet::model
