#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cachet::model {
namespace {

constexpr float kNormFloor = 6.1035e-5f;  // deepseek.md A.7: denominator floor

// y [m, rows] (= or +=) x [m, w.k] times rows [row0, row0 + rows) of w.
void MatMulRows(const kernels::KernelTable& k, const Weight& w, int64_t row0, int64_t rows,
                const float* x, int64_t m, float* y, bool acc, ThreadPool* pool) {
  kernels::MatmulParams p;
  p.w_type = w.type;
  p.w = static_cast<const uint8_t*>(w.data) + row0 * RowBytes(w.type, w.k);
  p.w_packed = kernels::PackedRows(k, w.type, w.packed, w.k, row0);  // nullptr: row-major
  p.x = x;
  p.y = y;
  p.m = m;
  p.n = rows;
  p.k = w.k;
  p.ldx = w.k;
  p.ldy = rows;
  p.accumulate = acc;
  k.matmul(p, pool);
}

// Index of the largest value among v[0..n) not yet taken; ties go to the lower index.
int64_t ArgMaxFree(const float* v, const std::vector<bool>& taken, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (taken[i]) continue;
    if (best < 0 || v[i] > v[best]) best = i;
  }
  return best;
}

// Sets B = -inf for experts outside the n_group_used best groups.
void MaskGroups(const RouterConfig& c, float* b) {
  const int64_t gs = c.n_expert / c.n_group;
  std::vector<float> score(c.n_group);
  for (int64_t g = 0; g < c.n_group; ++g) {
    const float* v = b + g * gs;
    float m1 = -std::numeric_limits<float>::infinity(), m2 = m1;
    for (int64_t i = 0; i < gs; ++i) {
      if (v[i] > m1) {
        m2 = m1;
        m1 = v[i];
      } else if (v[i] > m2) {
        m2 = v[i];
      }
    }
    score[g] = (c.bias != nullptr && gs >= 2) ? m1 + m2 : m1;
  }
  std::vector<bool> keep(c.n_group, false);
  for (int64_t n = 0; n < c.n_group_used; ++n)
    keep[ArgMaxFree(score.data(), keep, c.n_group)] = true;
  for (int64_t g = 0; g < c.n_group; ++g) {
    if (keep[g]) continue;
    std::fill(b + g * gs, b + (g + 1) * gs, -std::numeric_limits<float>::infinity());
  }
}

}  // namespace

void RouteToken(const RouterConfig& c, const float* logits, int32_t* ids, float* weights,
                float* scratch, const int32_t* forced) {
  const int64_t E = c.n_expert;
  float* p = scratch;
  float* b = scratch + E;
  if (c.gating == ExpertGating::kSoftmax) {
    float mx = logits[0];
    for (int64_t e = 1; e < E; ++e) mx = std::max(mx, logits[e]);
    double sum = 0;
    for (int64_t e = 0; e < E; ++e) {
      p[e] = std::exp(logits[e] - mx);
      sum += p[e];
    }
    for (int64_t e = 0; e < E; ++e) p[e] = static_cast<float>(p[e] / sum);
  } else if (c.gating == ExpertGating::kSigmoid) {
    for (int64_t e = 0; e < E; ++e) p[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  } else {  // sqrt(softplus(z)), softplus computed without overflow
    for (int64_t e = 0; e < E; ++e) {
      const float z = logits[e];
      p[e] = std::sqrt(std::max(z, 0.0f) + std::log1p(std::exp(-std::fabs(z))));
    }
  }
  if (forced != nullptr) {
    double sum = 0;
    for (int64_t s = 0; s < c.n_used; ++s) {
      ids[s] = forced[s];
      weights[s] = p[forced[s]];
      sum += weights[s];
    }
    const float norm = c.weights_norm ? 1.0f / std::max(static_cast<float>(sum), kNormFloor) : 1.0f;
    for (int64_t s = 0; s < c.n_used; ++s) weights[s] *= norm * c.weights_scale;
    return;
  }
  for (int64_t e = 0; e < E; ++e) b[e] = c.bias != nullptr ? p[e] + c.bias[e] : p[e];
  if (c.n_group > 1) MaskGroups(c, b);
  std::vector<bool> taken(E, false);
  double sum = 0;
  for (int64_t s = 0; s < c.n_used; ++s) {
    const int64_t e = ArgMaxFree(b, taken, E);
    taken[e] = true;
    ids[s] = static_cast<int32_t>(e);
    weights[s] = p[e];
    sum += p[e];
  }
  const float norm = c.weights_norm ? 1.0f / std::max(static_cast<float>(sum), kNormFloor) : 1.0f;
  for (int64_t s = 0; s < c.n_used; ++s) weights[s] *= norm * c.weights_scale;
}

void ClampedSwiglu(const kernels::KernelTable& k, float* gate, float* up, int64_t n, float l) {
  if (l > 0.0f) {
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = std::min(gate[i], l);
      up[i] = std::clamp(up[i], -l, l);
    }
  }
  k.swiglu(gate, up, gate, n);
}

void MoeFfn::RunExpert(const MoeWeights& w, int64_t e, int64_t n_rows, const Rows& r,
                       const kernels::KernelTable& k, ThreadPool* pool) {
  MatMulRows(k, w.gate_exps, e * f_, f_, r.x, n_rows, r.gate, false, pool);
  MatMulRows(k, w.up_exps, e * f_, f_, r.x, n_rows, r.up, false, pool);
  ClampedSwiglu(k, r.gate, r.up, n_rows * f_, w.clamp_exp);
  MatMulRows(k, w.down_exps, e * d_, d_, r.gate, n_rows, r.y, false, pool);
}

// Decode-sized steps (few rows per expert): one pool dispatch runs whole experts on the threads
// (single-threaded matmuls on disjoint rows of the slot-ordered buffers) instead of three
// dispatches per expert. Larger steps split each expert's matmuls over the pool.
void MoeFfn::RunExperts(const MoeWeights& w, const float* h, int64_t T, float* x,
                        const kernels::KernelTable& k, ThreadPool* pool) {
  const int64_t E = c_.n_expert, K = c_.n_used;
  const bool parallel = pool != nullptr && pool->size() > 1 && T * K <= kExpertParallelSlots;
  const int64_t rows = parallel ? T * K : T;
  xe_.resize(rows * d_);
  ye_.resize(rows * d_);
  gate_.resize(std::max(gate_.size(), static_cast<size_t>(rows * f_)));
  up_.resize(std::max(up_.size(), static_cast<size_t>(rows * f_)));
  auto bufs = [&](int64_t r0) {
    return Rows{xe_.data() + r0 * d_, gate_.data() + r0 * f_, up_.data() + r0 * f_,
                ye_.data() + r0 * d_};
  };
  auto scatter = [&](const int32_t* slots, int64_t n, const float* y) {
    for (int64_t i = 0; i < n; ++i) {
      float* dst = x + (slots[i] / K) * d_;
      const float wt = weights_[slots[i]];
      for (int64_t j = 0; j < d_; ++j) dst[j] += wt * y[i * d_ + j];
    }
  };
  if (parallel) {
    for (int64_t i = 0; i < T * K; ++i) {
      const float* src = h + (order_[i] / K) * d_;
      std::copy(src, src + d_, xe_.data() + i * d_);
    }
    std::vector<int32_t> active;
    for (int64_t e = 0; e < E; ++e) {
      if (count_[e + 1] > count_[e]) active.push_back(static_cast<int32_t>(e));
    }
    pool->ParallelFor(static_cast<int64_t>(active.size()), 1, [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t e = active[a];
        RunExpert(w, e, count_[e + 1] - count_[e], bufs(count_[e]), k, nullptr);
      }
    });
    scatter(order_.data(), T * K, ye_.data());  // expert order, as in the serial branch
    return;
  }
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = count_[e + 1] - count_[e];
    if (n == 0) continue;
    const int32_t* slots = order_.data() + count_[e];
    for (int64_t i = 0; i < n; ++i) {
      const float* src = h + (slots[i] / K) * d_;
      std::copy(src, src + d_, xe_.data() + i * d_);
    }
    RunExpert(w, e, n, bufs(0), k, pool);
    scatter(slots, n, ye_.data());
  }
}

void MoeFfn::Run(const MoeWeights& w, const float* h, int64_t T, float* x,
                 const kernels::KernelTable& k, ThreadPool* pool, const int32_t* tokens) {
  const int64_t E = c_.n_expert, K = c_.n_used;
  const int64_t fs = w.gate_shexp.present() ? w.gate_shexp.n : 0;
  c_.bias = w.bias.present() ? w.bias.data : nullptr;
  logits_.resize(T * E);
  ids_.resize(T * K);
  weights_.resize(T * K);
  scratch_.resize(2 * E);
  gate_.resize(T * std::max(f_, fs));
  up_.resize(T * std::max(f_, fs));
  MatMulRows(k, w.router, 0, E, h, T, logits_.data(), false, pool);
  for (int64_t t = 0; t < T; ++t) {
    const int32_t* forced = nullptr;
    if (w.tid2eid != nullptr && tokens != nullptr && tokens[t] >= 0 &&
        tokens[t] < w.tid2eid_vocab) {
      forced = w.tid2eid + static_cast<int64_t>(tokens[t]) * K;
      for (int64_t s = 0; s < K; ++s) {
        if (forced[s] < 0 || forced[s] >= E) forced = nullptr;  // bad table row: by score
        if (forced == nullptr) break;
      }
    }
    RouteToken(c_, logits_.data() + t * E, ids_.data() + t * K, weights_.data() + t * K,
               scratch_.data(), forced);
  }
  // Counting sort of the (token, slot) pairs by expert.
  count_.assign(E + 1, 0);
  for (int32_t e : ids_) ++count_[e + 1];
  for (int64_t e = 0; e < E; ++e) count_[e + 1] += count_[e];
  order_.resize(T * K);
  std::vector<int32_t> next(count_.begin(), count_.end() - 1);
  for (int64_t i = 0; i < T * K; ++i) order_[next[ids_[i]]++] = static_cast<int32_t>(i);
  RunExperts(w, h, T, x, k, pool);
  if (fs > 0) {  // shared experts: weight 1, every token
    MatMulRows(k, w.gate_shexp, 0, fs, h, T, gate_.data(), false, pool);
    MatMulRows(k, w.up_shexp, 0, fs, h, T, up_.data(), false, pool);
    ClampedSwiglu(k, gate_.data(), up_.data(), T * fs, w.clamp_shexp);
    MatMulRows(k, w.down_shexp, 0, d_, gate_.data(), T, x, true, pool);
  }
}

}  // namespace cachet::model
