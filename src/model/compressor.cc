#include "model/compressor.h"

#include <algorithm>
#include <cmath>

namespace cachet::model {

void CompressBlock(int64_t R, int64_t W, int kappa, const float* a_prev, const float* z_prev,
                   const float* a_cur, const float* z_cur, float* e) {
  const int64_t stride = kappa * W;
  const bool overlap = kappa == 2;
  const bool has_prev = overlap && a_prev != nullptr && z_prev != nullptr;
  const int64_t cur_off = overlap ? W : 0;  // CSA: block b uses its second halves
  for (int64_t c = 0; c < W; ++c) {
    float mx = -INFINITY;
    for (int64_t t = 0; t < R; ++t) mx = std::max(mx, z_cur[t * stride + cur_off + c]);
    if (has_prev) {
      for (int64_t t = 0; t < R; ++t) mx = std::max(mx, z_prev[t * stride + c]);
    }
    double num = 0, den = 0;
    for (int64_t t = 0; t < R; ++t) {
      const double w = std::exp(z_cur[t * stride + cur_off + c] - mx);
      num += w * a_cur[t * stride + cur_off + c];
      den += w;
    }
    if (has_prev) {
      for (int64_t t = 0; t < R; ++t) {
        const double w = std::exp(z_prev[t * stride + c] - mx);
        num += w * a_prev[t * stride + c];
        den += w;
      }
    }
    e[c] = static_cast<float>(num / den);
  }
}

}  // namespace cachet::model
