#include "engine/token_picker.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cachet::engine {
namespace {

sampling::SamplingParams ToParams(const SamplingOptions& o, uint64_t seed) {
  sampling::SamplingParams p;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.frequency_penalty = o.frequency_penalty;
  p.presence_penalty = o.presence_penalty;
  p.penalty_last_n = -1;  // the whole generated text (history holds generated tokens only)
  p.seed = seed;
  return p;
}

}  // namespace

TokenPicker::TokenPicker(const SamplingOptions& options, uint64_t seed,
                         std::shared_ptr<TokenConstraint> constraint, int64_t n_vocab)
    : options_(options),
      constraint_(std::move(constraint)),
      n_vocab_(n_vocab),
      sampler_(ToParams(options, seed)) {}

bool TokenPicker::Pick(const float* logits, std::span<const int32_t> generated,
                       GeneratedToken* out) {
  const int32_t v = static_cast<int32_t>(n_vocab_);
  const float* row = logits;
  if (constraint_ != nullptr) {
    mask_.assign(n_vocab_, 1);
    if (!constraint_->Allowed(mask_)) return false;
    masked_.assign(logits, logits + n_vocab_);
    bool any = false;
    for (int64_t i = 0; i < n_vocab_; ++i) {
      if (mask_[i] == 0) {
        masked_[i] = -std::numeric_limits<float>::infinity();
      } else {
        any = true;
      }
    }
    if (!any) return false;
    row = masked_.data();
  }
  const int32_t id = sampler_.Sample(row, v, generated);
  if (constraint_ != nullptr) constraint_->Accept(id);
  out->id = id;
  out->logprob = 0.0f;
  out->top.clear();
  if (options_.logprobs || options_.top_logprobs > 0) FillLogprobs(logits, out);
  return true;
}

void TokenPicker::FillLogprobs(const float* logits, GeneratedToken* out) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n_vocab_; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab_; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_z = static_cast<double>(max) + std::log(sum);
  auto lp = [&](int32_t id) { return static_cast<float>(logits[id] - log_z); };
  out->logprob = lp(out->id);
  const int64_t k = std::min<int64_t>(options_.top_logprobs, n_vocab_);
  if (k <= 0) return;
  order_.resize(n_vocab_);
  for (int32_t i = 0; i < n_vocab_; ++i) order_[i] = i;
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int64_t i = 0; i < k; ++i) out->top.push_back({order_[i], lp(order_[i])});
}

}  // namespace cachet::engine
