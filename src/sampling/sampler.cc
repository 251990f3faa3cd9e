#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

namespace cachet::sampling {
namespace {

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Higher logit first; equal logits: lower id first (deterministic).
bool Better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = SplitMix64(&x);
}

uint64_t Rng::NextU64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::NextDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

bool Sampler::HasPenalties() const {
  return params_.repetition_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
         params_.presence_penalty != 0.0f;
}

void Sampler::ApplyPenalties(std::span<const int32_t> history, int32_t n_vocab) {
  if (!HasPenalties() || history.empty()) return;
  size_t first = 0;
  if (params_.penalty_last_n >= 0 && history.size() > static_cast<size_t>(params_.penalty_last_n)) {
    first = history.size() - static_cast<size_t>(params_.penalty_last_n);
  }
  if (counts_.size() < static_cast<size_t>(n_vocab)) counts_.assign(n_vocab, 0);
  auto window = history.subspan(first);
  for (int32_t id : window) {
    if (id >= 0 && id < n_vocab) ++counts_[id];
  }
  for (int32_t id : window) {
    if (id < 0 || id >= n_vocab || counts_[id] == 0) continue;
    float& l = cand_[id].logit;  // cand_ is still indexed by id here
    const float rp = params_.repetition_penalty;
    if (rp != 1.0f) l = l > 0 ? l / rp : l * rp;
    l -= static_cast<float>(counts_[id]) * params_.frequency_penalty;
    l -= params_.presence_penalty;
    counts_[id] = 0;  // each id penalized once; also leaves the scratch zeroed
  }
}

int32_t Sampler::Greedy() const {
  size_t best = 0;
  for (size_t i = 1; i < cand_.size(); ++i) {
    if (Better(cand_[i], cand_[best])) best = i;
  }
  return cand_[best].id;
}

void Sampler::Truncate() {
  // Top-k, then sort the survivors.
  size_t n = cand_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + n, cand_.end(), Better);
    cand_.resize(n);
  } else {
    std::sort(cand_.begin(), cand_.end(), Better);
  }
  // Softmax with temperature (max first for stability); accumulate in double.
  const double inv_t = 1.0 / params_.temperature;
  const float max_logit = cand_[0].logit;
  double sum = 0;
  for (auto& c : cand_) {
    c.p = static_cast<float>(std::exp((static_cast<double>(c.logit) - max_logit) * inv_t));
    sum += c.p;
  }
  for (auto& c : cand_) c.p = static_cast<float>(c.p / sum);
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t keep = 0;
    while (keep < cand_.size()) {
      mass += cand_[keep].p;
      ++keep;
      if (mass >= params_.top_p) break;
    }
    cand_.resize(keep);
  }
  if (params_.min_p > 0.0f) {
    const float cut = params_.min_p * cand_[0].p;
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].p >= cut) ++keep;
    cand_.resize(keep);
  }
  double total = 0;
  for (const auto& c : cand_) total += c.p;
  for (auto& c : cand_) c.p = static_cast<float>(c.p / total);
}

int32_t Sampler::Sample(const float* logits, int32_t n_vocab, std::span<const int32_t> history) {
  if (params_.temperature <= 0.0f && (!HasPenalties() || history.empty())) {
    // Greedy without penalties: the argmax straight from the logits (first index among equal
    // maxima, as Better orders them), without building the candidate list.
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab; ++i) {
      if (logits[i] > logits[best]) best = i;
    }
    return best;
  }
  cand_.resize(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) cand_[i] = {i, logits[i], 0.0f};
  ApplyPenalties(history, n_vocab);
  if (params_.temperature <= 0.0f) {
    const int32_t id = Greedy();
    cand_.clear();
    return id;
  }
  Truncate();
  const double u = rng_.NextDouble();
  double acc = 0;
  for (const auto& c : cand_) {
    acc += c.p;
    if (u < acc) return c.id;
  }
  return cand_.back().id;  // rounding: u landed past the last partial sum
}

}  // namespace cachet::sampling
