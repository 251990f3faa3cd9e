#include "model/ds4_cache.h"

#include <new>

namespace cachet::model {

int64_t Ds4CacheDims::FixedBytes() const {
  int64_t bytes = 0;
  for (int64_t r : ratios) {
    bytes += n_swa * head_dim * elem_bytes();
    if (r == 0) continue;
    bytes += StateRows(r) * StateWidth(r, head_dim) * 4;
    if (r == 4) bytes += StateRows(r) * StateWidth(r, indexer_dim) * 4;
  }
  return bytes;
}

int64_t Ds4CacheDims::EntryBytes(int64_t n_tokens) const {
  int64_t bytes = 0;
  for (int64_t r : ratios) {
    if (r == 0) continue;
    const int64_t ct = ChunkTokens(r);
    const int64_t chunks = (n_tokens + ct - 1) / ct;
    const int64_t width = r == 4 ? head_dim + indexer_dim : head_dim;
    bytes += chunks * (ct / r) * width * elem_bytes();
  }
  return bytes;
}

double Ds4CacheDims::BytesPerToken() const {
  double b = 0;
  for (int64_t r : ratios) {
    if (r == 4) b += static_cast<double>(head_dim + indexer_dim) / 4.0;
    if (r == 128) b += static_cast<double>(head_dim) / 128.0;
  }
  return b * elem_bytes();
}

bool Ds4CacheDims::PagedFits() const {
  for (int64_t r : ratios) {
    if (r == 4 && (head_dim + indexer_dim) % 4 != 0) return false;
    if (r == 128 && head_dim % 64 != 0) return false;
  }
  return true;
}

int64_t Ds4CacheDims::PagedValuesPerToken() const {
  int64_t v = 0;
  for (int64_t r : ratios) {
    if (r == 4) v += (head_dim + indexer_dim) / 4;
    if (r == 128) v += head_dim / 64;
  }
  return v;
}

int64_t Ds4CacheDims::PagedLayerOffset(int64_t l) const {
  int64_t v = 0;
  for (int64_t i = 0; i < l; ++i) {
    if (ratios[i] == 4) v += 16 * (head_dim + indexer_dim);
    if (ratios[i] == 128) v += head_dim;
  }
  return v * elem_bytes();
}

Result<std::unique_ptr<Ds4Cache>> Ds4Cache::Create(const Ds4CacheDims& dims, bool paged) {
  if (dims.type != DType::kF16 && dims.type != DType::kF32) {
    return InvalidArgument("deepseek4 cache type must be f16 or f32");
  }
  if (paged && !dims.PagedFits()) {
    return Unsupported("deepseek4: entry sizes do not fill 64-token pool blocks evenly");
  }
  std::unique_ptr<Ds4Cache> c(new Ds4Cache(dims, paged));
  const int64_t L = static_cast<int64_t>(dims.ratios.size());
  if (paged) {
    for (int64_t l = 0; l < L; ++l) c->layer_off_.push_back(dims.PagedLayerOffset(l));
  }
  c->raw_.resize(L);
  c->main_state_.resize(L);
  c->idx_state_.resize(L);
  c->chunks_.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    const int64_t r = dims.ratios[l];
    c->raw_[l].reset(new (std::nothrow) uint8_t[dims.n_swa * c->RawRowBytes()]());
    if (c->raw_[l] == nullptr) return ResourceExhausted("deepseek4 cache allocation failed");
    if (r == 0) continue;
    const int64_t n = Ds4CacheDims::StateRows(r) * dims.StateWidth(r, dims.head_dim);
    c->main_state_[l].reset(new (std::nothrow) float[n]());
    if (c->main_state_[l] == nullptr) return ResourceExhausted("deepseek4 cache allocation failed");
    if (r != 4) continue;
    const int64_t ni = Ds4CacheDims::StateRows(r) * dims.StateWidth(r, dims.indexer_dim);
    c->idx_state_[l].reset(new (std::nothrow) float[ni]());
    if (c->idx_state_[l] == nullptr) return ResourceExhausted("deepseek4 cache allocation failed");
  }
  return c;
}

int64_t Ds4Cache::ChunkBytes(int64_t ratio) const {
  const int64_t width = ratio == 4 ? d_.head_dim + d_.indexer_dim : d_.head_dim;
  return Ds4CacheDims::ChunkTokens(ratio) / ratio * width * d_.elem_bytes();
}

int64_t Ds4Cache::allocated_bytes() const {
  int64_t bytes = d_.FixedBytes();
  for (size_t l = 0; l < chunks_.size(); ++l) {
    if (d_.ratios[l] != 0)
      bytes += static_cast<int64_t>(chunks_[l].size()) * ChunkBytes(d_.ratios[l]);
  }
  return bytes;
}

Status Ds4Cache::Reserve(int64_t n_tokens) {
  if (paged_) return Status::Ok();
  for (size_t l = 0; l < chunks_.size(); ++l) {
    const int64_t r = d_.ratios[l];
    if (r == 0) continue;
    const int64_t ct = Ds4CacheDims::ChunkTokens(r);
    const size_t need = static_cast<size_t>((n_tokens + ct - 1) / ct);
    while (chunks_[l].size() < need) {
      auto* mem = new (std::nothrow) uint8_t[ChunkBytes(r)]();
      if (mem == nullptr) return ResourceExhausted("deepseek4 cache allocation failed");
      chunks_[l].emplace_back(mem);
    }
  }
  if (n_tokens > reserved_) reserved_ = n_tokens;
  return Status::Ok();
}

float* Ds4Cache::MainState(int64_t l, int64_t p) {
  const int64_t r = d_.ratios[l];
  return main_state_[l].get() + (p % Ds4CacheDims::StateRows(r)) * d_.StateWidth(r, d_.head_dim);
}

float* Ds4Cache::IndexerState(int64_t l, int64_t p) {
  return idx_state_[l].get() + (p % 8) * d_.StateWidth(4, d_.indexer_dim);
}

uint8_t* Ds4Cache::PagedEntry(int64_t l, int64_t b, bool indexer) const {
  const int64_t eb = d_.elem_bytes();
  if (d_.ratios[l] == 128) {
    return static_cast<uint8_t*>(blocks_[2 * b + 1]) + layer_off_[l];
  }
  auto* blk = static_cast<uint8_t*>(blocks_[b / 16]) + layer_off_[l];
  if (!indexer) return blk + (b % 16) * d_.head_dim * eb;
  return blk + 16 * d_.head_dim * eb + (b % 16) * d_.indexer_dim * eb;
}

// CSA chunk layout: 16 main entries (D each), then 16 indexer entries (d_I each).
uint8_t* Ds4Cache::MainEntry(int64_t l, int64_t b) {
  if (paged_) return PagedEntry(l, b, false);
  const int64_t r = d_.ratios[l], per = Ds4CacheDims::ChunkTokens(r) / r;
  return chunks_[l][b / per].get() + (b % per) * d_.head_dim * d_.elem_bytes();
}

uint8_t* Ds4Cache::IndexerEntry(int64_t l, int64_t b) {
  if (paged_) return PagedEntry(l, b, true);
  const int64_t per = 16;
  return chunks_[l][b / per].get() + per * d_.head_dim * d_.elem_bytes() +
         (b % per) * d_.indexer_dim * d_.elem_bytes();
}

}  // namespace cachet::model
