#include "kernels/packed_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"

namespace cachet::kernels {

size_t HugeMapping::Rounded(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  return (bytes + kHuge - 1) / kHuge * kHuge;
}

HugeMapping HugeMapping::Map(size_t bytes) {
  HugeMapping m;
  const size_t n = Rounded(bytes);
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return m;
  madvise(p, n, MADV_HUGEPAGE);  // advisory: fewer page faults and TLB misses
  m.p_ = static_cast<uint8_t*>(p);
  m.n_ = n;
  return m;
}

HugeMapping::~HugeMapping() {
  if (p_ != nullptr) munmap(p_, n_);
}

HugeMapping::HugeMapping(HugeMapping&& o) noexcept : p_(o.p_), n_(o.n_) {
  o.p_ = nullptr;
  o.n_ = 0;
}

HugeMapping& HugeMapping::operator=(HugeMapping&& o) noexcept {
  if (this != &o) {
    if (p_ != nullptr) munmap(p_, n_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

PackedArena::~PackedArena() = default;

bool PackingEnabled() {
  const char* v = std::getenv("CACHET_PACK");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

Status PackedArena::Pack(const KernelTable& kt, std::span<const PackRequest> reqs,
                         ThreadPool* pool) {
  if (!mem_.empty()) return Internal("PackedArena::Pack called twice");
  if (kt.packed_bytes == nullptr || kt.pack_weight == nullptr) return Status::Ok();
  constexpr size_t kAlign = 64;
  std::vector<size_t> offset(reqs.size(), SIZE_MAX);
  size_t total = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    const PackRequest& r = reqs[i];
    const size_t b = r.w == nullptr ? 0 : kt.packed_bytes(r.type, r.n, r.k);
    if (b == 0) continue;
    offset[i] = total;
    total += (b + kAlign - 1) / kAlign * kAlign;
  }
  if (total == 0) return Status::Ok();
  HugeMapping mem = HugeMapping::Map(total);
  if (mem.empty()) {
    return ResourceExhausted("cannot map " + std::to_string(HugeMapping::Rounded(total)) +
                             " bytes for packed weights");
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (offset[i] == SIZE_MAX) continue;
    const PackRequest& r = reqs[i];
    void* dst = mem.data() + offset[i];
    kt.pack_weight(r.type, r.w, r.n, r.k, dst, pool);
    *r.out = dst;
    ReleasePackedSources({&r, 1});
  }
  mem_ = std::move(mem);
  bytes_ = total;
  return Status::Ok();
}

const void* PackedRows(const KernelTable& kt, DType t, const void* packed, int64_t k,
                       int64_t row0) {
  if (packed == nullptr || kt.packed_bytes == nullptr) return nullptr;
  if (row0 == 0) return packed;
  // row0 starts a group exactly when one more row needs one more group.
  const size_t off = kt.packed_bytes(t, row0, k);
  if (off == 0 || kt.packed_bytes(t, row0 + 1, k) == off) return nullptr;
  return static_cast<const uint8_t*>(packed) + off;
}

void ReleasePackedSources(std::span<const PackRequest> reqs) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (const PackRequest& r : reqs) {
    if (!r.release_source || r.w == nullptr || r.out == nullptr || *r.out == nullptr) continue;
    const uintptr_t a = reinterpret_cast<uintptr_t>(r.w);
    const uintptr_t b = a + static_cast<uintptr_t>(RowBytes(r.type, r.k) * r.n);
    const uintptr_t lo = (a + page - 1) / page * page, hi = b / page * page;  // whole pages only
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
}

void PackOrWarn(const KernelTable& kt, std::span<const PackRequest> reqs, PackedArena* arena) {
  if (!PackingEnabled() || kt.pack_weight == nullptr || reqs.empty()) return;
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (Status s = arena->Pack(kt, reqs, &pool); !s.ok()) {
    LOG_WARN << "weights not packed (" << s.ToString() << "); matmuls read the file layout";
  }
}

}  // namespace cachet::kernels
