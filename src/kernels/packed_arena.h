// Weights repacked once at load into a kernel table's packed layout (KernelTable::pack_weight,
// e.g. q8_0 interleaved by 16 rows for AVX-512 VNNI), so every matmul streams the layout its
// kernel runs fastest on. The original bytes stay the source of truth: callers keep their
// pointer into the mapped file (row lookups, tables without the layout) and pass the packed
// copy as MatmulParams::w_packed.
//
// Memory: one anonymous mapping holding all packed matrices (huge pages advised), the size of
// the packed weights; a model file's pages stay in the page cache, reclaimable. Packing is off
// when CACHET_PACK=0 is set in the environment (benchmarks compare both).
//
// Thread-safety: Pack once; afterwards the packed bytes are read-only and shareable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace cachet::kernels {

struct PackRequest {
  DType type;
  const void* w;        // [n, k] in `type`, rows of RowBytes(type, k)
  int64_t n = 0, k = 0;
  const void** out;     // receives the packed copy, or is left untouched when there is none
  // The source lies in a read-only file mapping (ModelFile::Maps): once packed, its pages are
  // dropped from the process (ReleasePackedSources). Never set it for heap or other anonymous
  // memory: dropping those pages would zero the data.
  bool release_source = false;
};

// Anonymous read-write memory rounded up to 2 MiB with MADV_HUGEPAGE advised (the kernel grants
// huge pages where it can): where packed weights live, so streaming them costs no TLB miss per
// 4 KiB. Movable; unmapped on destruction.
class HugeMapping {
 public:
  HugeMapping() = default;
  // At least `bytes` (zero-filled lazily); empty() when the mapping fails.
  static HugeMapping Map(size_t bytes);
  // The size Map(bytes) maps.
  static size_t Rounded(size_t bytes);
  ~HugeMapping();
  HugeMapping(HugeMapping&& o) noexcept;
  HugeMapping& operator=(HugeMapping&& o) noexcept;
  HugeMapping(const HugeMapping&) = delete;
  HugeMapping& operator=(const HugeMapping&) = delete;

  uint8_t* data() const { return p_; }
  bool empty() const { return p_ == nullptr; }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

class PackedArena {
 public:
  PackedArena() = default;
  ~PackedArena();
  PackedArena(const PackedArena&) = delete;
  PackedArena& operator=(const PackedArena&) = delete;

  // Packs every request `kt` has a layout for (the others are skipped) and stores the copy's
  // address in *out; runs on `pool` (nullptr: the caller). One call per arena. A request with
  // release_source has its source pages dropped right after it is packed, so the peak memory is
  // the packed copies plus one source matrix.
  // Errors: ResourceExhausted when the memory cannot be mapped (nothing is packed);
  // Internal on a second call.
  Status Pack(const KernelTable& kt, std::span<const PackRequest> reqs, ThreadPool* pool);
  // Bytes held by the packed copies.
  size_t bytes() const { return bytes_; }

 private:
  HugeMapping mem_;
  size_t bytes_ = 0;
};

// True unless CACHET_PACK=0 is set in the environment.
bool PackingEnabled();

// Drops the process's pages of the source bytes of every request with release_source that was
// packed (*out set): the matmuls read the packed copies, so the file pages only cost memory;
// anything that still reads them (embedding rows of a tied output matrix) faults them back in
// from the file.
void ReleasePackedSources(std::span<const PackRequest> reqs);

// What model loaders call: unless packing is disabled or the table has no layout, packs `reqs`
// into `arena` on a temporary pool of all cores. A failure is logged as a warning and leaves
// the weights unpacked (they still work, only slower).
void PackOrWarn(const KernelTable& kt, std::span<const PackRequest> reqs, PackedArena* arena);

}  // namespace cachet::kernels
