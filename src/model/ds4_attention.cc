#include "model/ds4_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/compressor.h"
#include "model/mla_attention.h"

namespace cachet::model {
namespace {

void RmsNormInPlace(float* v, const float* w, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(v[i]) * v[i];
  const float s = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) v[i] = v[i] * s * (w != nullptr ? w[i] : 1.0f);
}

// Pools block b of a compressor of ratio R over entries of width W from its state ring
// (rows [a (kappa W) ; z (kappa W)], row = position % rows), then RMSNorm + RoPE at b*R.
void EmitEntry(const Ds4LayerParams& p, int64_t R, int64_t W, int64_t rows, const float* ring,
               const float* norm, int64_t b, float* e) {
  const int kappa = R == 4 ? 2 : 1;
  const int64_t kw = kappa * W, rw = 2 * kw;
  std::vector<float> a_cur(R * kw), z_cur(R * kw), a_prev, z_prev;
  for (int64_t t = 0; t < R; ++t) {
    const float* row = ring + ((b * R + t) % rows) * rw;
    std::copy_n(row, kw, a_cur.data() + t * kw);
    std::copy_n(row + kw, kw, z_cur.data() + t * kw);
  }
  if (kappa == 2 && b > 0) {
    a_prev.resize(R * kw);
    z_prev.resize(R * kw);
    for (int64_t t = 0; t < R; ++t) {
      const float* row = ring + (((b - 1) * R + t) % rows) * rw;
      std::copy_n(row, kw, a_prev.data() + t * kw);
      std::copy_n(row + kw, kw, z_prev.data() + t * kw);
    }
  }
  CompressBlock(R, W, kappa, a_prev.empty() ? nullptr : a_prev.data(),
                z_prev.empty() ? nullptr : z_prev.data(), a_cur.data(), z_cur.data(), e);
  RmsNormInPlace(e, norm, W, p.norm_eps);
  Ds4RopeLast(e, W, p.r, p.inv_freq, b * R);
}

// Appends (a, z + ape[pos % R]) of one token to a state ring row.
void PushState(float* row, const float* a, const float* z, const float* ape, int64_t kw) {
  std::copy_n(a, kw, row);
  for (int64_t i = 0; i < kw; ++i) row[kw + i] = z[i] + ape[i];
}

// Top-k CSA entries for a query: score(b) = sum_h w_h relu(qI_h . kI_b), b < n_vis; ties to
// the lower index. Writes the chosen ids to ids, returns their count.
int64_t SelectEntries(const Ds4LayerParams& p, Ds4Cache* c, int64_t n_vis, const float* qi,
                      const float* wi, std::vector<float>& key, std::vector<double>& score,
                      std::vector<int32_t>& ids) {
  ids.clear();
  if (n_vis <= p.idx_top_k) {
    for (int64_t b = 0; b < n_vis; ++b) ids.push_back(static_cast<int32_t>(b));
    return n_vis;
  }
  score.assign(n_vis, 0.0);
  key.resize(p.idx_dim);
  for (int64_t b = 0; b < n_vis; ++b) {
    MlaLoadRow(c->dims().type, c->IndexerEntry(p.layer, b), key.data(), p.idx_dim);
    double s = 0;
    for (int64_t h = 0; h < p.idx_heads; ++h) {
      double dot = 0;
      const float* q = qi + h * p.idx_dim;
      for (int64_t i = 0; i < p.idx_dim; ++i) dot += static_cast<double>(q[i]) * key[i];
      s += wi[h] * std::max(dot, 0.0);
    }
    score[b] = s;
  }
  for (int64_t b = 0; b < n_vis; ++b) ids.push_back(static_cast<int32_t>(b));
  std::partial_sort(ids.begin(), ids.begin() + p.idx_top_k, ids.end(), [&](int32_t x, int32_t y) {
    return score[x] > score[y] || (score[x] == score[y] && x < y);
  });
  ids.resize(p.idx_top_k);
  return p.idx_top_k;
}

struct Scratch {
  std::vector<float> keys, key;
  std::vector<double> score, logit;
  std::vector<int32_t> ids;
};

// Gathers the keys query position P attends to into s->keys [n, D]; returns n.
int64_t GatherKeys(const Ds4LayerParams& p, Ds4Cache* c, int64_t start, int64_t P, const float* kv,
                   const float* qi, const float* wi, Scratch* s, int32_t* sel) {
  const int64_t D = p.D;
  const DType t = c->dims().type;
  const int64_t lo = std::max<int64_t>(0, P - p.n_swa + 1);
  int64_t n_comp = 0;
  if (p.ratio == 4) {
    n_comp = SelectEntries(p, c, (P + 1) / 4, qi, wi, s->key, s->score, s->ids);
    if (sel != nullptr) {
      std::fill(sel, sel + p.idx_top_k, -1);
      std::copy(s->ids.begin(), s->ids.end(), sel);
    }
  } else if (p.ratio == 128) {
    n_comp = (P + 1) / 128;
  }
  const int64_t n = (P - lo + 1) + n_comp;
  s->keys.resize(n * D);
  int64_t k = 0;
  for (int64_t x = lo; x <= P; ++x, ++k) {
    if (x >= start) {
      std::copy_n(kv + (x - start) * D, D, s->keys.data() + k * D);
    } else {
      MlaLoadRow(t, c->Raw(p.layer, x), s->keys.data() + k * D, D);
    }
  }
  for (int64_t j = 0; j < n_comp; ++j, ++k) {
    const int64_t b = p.ratio == 4 ? s->ids[j] : j;
    MlaLoadRow(t, c->MainEntry(p.layer, b), s->keys.data() + k * D, D);
  }
  return n;
}

// Sink attention of one query (all heads) over s->keys; out [H*D], de-roped at P.
void AttendOne(const Ds4LayerParams& p, int64_t P, const float* q, int64_t n, Scratch* s,
               float* out) {
  const int64_t D = p.D;
  s->logit.resize(n);
  for (int64_t h = 0; h < p.H; ++h) {
    const float* qh = q + h * D;
    double mx = p.sinks[h];
    for (int64_t j = 0; j < n; ++j) {
      const float* kj = s->keys.data() + j * D;
      double dot = 0;
      for (int64_t i = 0; i < D; ++i) dot += static_cast<double>(qh[i]) * kj[i];
      s->logit[j] = dot * p.scale;
      mx = std::max(mx, s->logit[j]);
    }
    double den = std::exp(p.sinks[h] - mx);
    std::vector<double> acc(D, 0.0);
    for (int64_t j = 0; j < n; ++j) {
      const double w = std::exp(s->logit[j] - mx);
      den += w;
      const float* kj = s->keys.data() + j * D;
      for (int64_t i = 0; i < D; ++i) acc[i] += w * kj[i];
    }
    float* oh = out + h * D;
    for (int64_t i = 0; i < D; ++i) oh[i] = static_cast<float>(acc[i] / den);
    Ds4RopeLast(oh, D, p.r, p.inv_freq, P, /*inverse=*/true);
  }
}

}  // namespace

void Ds4RopeLast(float* v, int64_t D, int64_t r, const float* inv_freq, int64_t pos, bool inverse) {
  float* x = v + (D - r);
  for (int64_t j = 0; j < r / 2; ++j) {
    const double th = static_cast<double>(pos) * inv_freq[j] * (inverse ? -1.0 : 1.0);
    const double cs = std::cos(th), sn = std::sin(th);
    const double a = x[2 * j], b = x[2 * j + 1];
    x[2 * j] = static_cast<float>(a * cs - b * sn);
    x[2 * j + 1] = static_cast<float>(a * sn + b * cs);
  }
}

void Ds4Compress(const Ds4LayerParams& p, Ds4Cache* c, int64_t start, int64_t n, const float* a,
                 const float* z, const float* ai, const float* zi) {
  if (p.ratio == 0) return;
  const int64_t R = p.ratio, kw = (R == 4 ? 2 : 1) * p.D, kwi = 2 * p.idx_dim;
  const int64_t rows = Ds4CacheDims::StateRows(R);
  const DType t = c->dims().type;
  std::vector<float> e(std::max(p.D, p.idx_dim));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pos = start + i;
    PushState(c->MainState(p.layer, pos), a + i * kw, z + i * kw, p.ape + (pos % R) * kw, kw);
    if (R == 4) {
      PushState(c->IndexerState(p.layer, pos), ai + i * kwi, zi + i * kwi,
                p.idx_ape + (pos % R) * kwi, kwi);
    }
    if ((pos + 1) % R != 0) continue;
    const int64_t b = pos / R;
    EmitEntry(p, R, p.D, rows, c->MainState(p.layer, 0), p.cnorm, b, e.data());
    MlaStoreRow(t, e.data(), c->MainEntry(p.layer, b), p.D);
    if (R != 4) continue;
    EmitEntry(p, R, p.idx_dim, rows, c->IndexerState(p.layer, 0), p.idx_cnorm, b, e.data());
    MlaStoreRow(t, e.data(), c->IndexerEntry(p.layer, b), p.idx_dim);
  }
}

void Ds4Attend(const Ds4LayerParams& p, Ds4Cache* c, int64_t start, int64_t n, const float* q,
               const float* kv, const float* qi, const float* wi, float* out, ThreadPool* pool,
               int32_t* sel) {
  const int64_t HD = p.H * p.D, hi = p.idx_heads * p.idx_dim;
  auto body = [&](int64_t i0, int64_t i1) {
    Scratch s;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t P = start + i;
      const bool csa = p.ratio == 4;
      const int64_t nk = GatherKeys(p, c, start, P, kv, csa ? qi + i * hi : nullptr,
                                    csa ? wi + i * p.idx_heads : nullptr, &s,
                                    sel != nullptr && csa ? sel + i * p.idx_top_k : nullptr);
      AttendOne(p, P, q + i * HD, nk, &s, out + i * HD);
    }
  };
  if (pool == nullptr || pool->size() <= 1 || n == 1) {
    body(0, n);
  } else {
    pool->ParallelFor(n, 1, body);
  }
  const DType t = c->dims().type;
  for (int64_t i = std::max<int64_t>(0, n - p.n_swa); i < n; ++i) {
    MlaStoreRow(t, kv + i * p.D, c->Raw(p.layer, start + i), p.D);
  }
}

}  // namespace cachet::model
