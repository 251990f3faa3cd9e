#include "kv/kv_storage.h"

#include <sys/mman.h>

#include <string>

namespace cachet::kv {

Result<std::unique_ptr<KvStorage>> KvStorage::Create(const KvGeometry& g, int32_t n_blocks) {
  if (g.n_layer <= 0 || g.k_bytes <= 0 || g.v_bytes < 0 || n_blocks <= 0) {
    return InvalidArgument("kv storage: empty geometry or no blocks");
  }
  const size_t bytes = static_cast<size_t>(g.block_bytes()) * static_cast<size_t>(n_blocks);
  // Anonymous mapping: page-aligned, untouched pages cost nothing until used.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return ResourceExhausted("kv storage: cannot map " + std::to_string(bytes) + " bytes");
  }
  return std::unique_ptr<KvStorage>(new KvStorage(g, n_blocks, static_cast<uint8_t*>(p)));
}

int32_t KvStorage::BlocksForBudget(const KvGeometry& g, int64_t budget_bytes) {
  if (g.block_bytes() <= 0 || budget_bytes <= 0) return 0;
  const int64_t n = budget_bytes / g.block_bytes();
  return static_cast<int32_t>(n > (1 << 30) ? (1 << 30) : n);
}

KvStorage::~KvStorage() { munmap(base_, static_cast<size_t>(total_bytes())); }

}  // namespace cachet::kv
