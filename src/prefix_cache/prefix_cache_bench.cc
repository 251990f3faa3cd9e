// prefix_cache_bench [DIR] [N_BLOCKS]: disk tier throughput for 64-token blocks of llama-1b
// geometry (16 layers x (K + V) x 64 tokens x 8 KV heads x 64 dims x 2 bytes = 2 MiB per block).
//   write: Evict(N) spilling to DIR, until the I/O thread finished (engine-thread copy time too)
//   scan:  a restarted cache rebuilding its index from DIR (headers only)
//   read:  StartLoad of the N blocks until done, with the files first dropped from the page cache
//          (posix_fadvise DONTNEED, so only this benchmark's files are affected), then warm
// Default DIR: a fresh directory under /tmp (removed afterwards); N_BLOCKS: 32.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "prefix_cache/disk_format.h"
#include "prefix_cache/prefix_cache.h"

namespace cp = cachet::prefix_cache;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void DropFromPageCache(const std::string& dir) {
  auto names = cachet::Env::Default()->ListDir(dir);
  if (!names.ok()) return;
  for (const std::string& n : *names) {
    const std::string p = cachet::JoinPath(dir, n);
    const int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) continue;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct Setup {
  std::unique_ptr<cachet::kv::BlockPool> pool;
  std::unique_ptr<cachet::kv::KvStorage> storage;
  std::unique_ptr<cp::PrefixCache> cache;
};

Setup Open(const cp::Options& o, const cachet::kv::KvGeometry& g, int32_t n_blocks) {
  Setup s;
  s.pool = std::make_unique<cachet::kv::BlockPool>(n_blocks);
  s.storage = std::move(cachet::kv::KvStorage::Create(g, n_blocks).value());
  auto c = cp::PrefixCache::Open(o, s.pool.get(), s.storage.get());
  if (!c.ok()) {
    std::fprintf(stderr, "open: %s\n", c.status().ToString().c_str());
    std::exit(1);
  }
  s.cache = std::move(c).value();
  return s;
}

// Loads every disk block of `tokens`; returns seconds from StartLoad to completion.
double LoadAll(Setup& s, const std::vector<cp::TokenId>& tokens, double* start_s) {
  cp::LookupResult r = s.cache->Lookup(tokens, "bench");
  std::vector<cachet::kv::BlockId> dest;
  for (int i = 0; i < r.disk_blocks(); ++i) dest.push_back(s.pool->Allocate());
  const double t0 = Now();
  auto id = s.cache->StartLoad(r, dest);
  *start_s = Now() - t0;
  auto done = s.cache->WaitIdle();
  const double secs = Now() - t0;
  if (!id.ok() || done.size() != 1 || done[0].n_loaded != r.disk_blocks()) {
    std::fprintf(stderr, "load failed\n");
    std::exit(1);
  }
  for (auto b : dest) s.pool->Unref(b);
  s.cache->Clear();
  return secs;
}

// Two rounds of writes: the first allocates fresh write buffers (page faults on the engine
// thread's copy), the second reuses the buffers the I/O thread returned.
void WriteRounds(const cp::Options& o, const cachet::kv::KvGeometry& g, int n,
                 const std::vector<cp::TokenId>& tokens, double write_s[2], double evict_s[2]) {
  Setup s = Open(o, g, n);
  std::mt19937_64 rng(1);
  for (int round = 0; round < 2; ++round) {
    std::vector<cp::TokenId> t = tokens;
    if (round == 0) t[0] = -1;  // another chain: the measured round's files stay
    std::vector<cachet::kv::BlockId> blocks;
    for (int i = 0; i < n; ++i) {
      blocks.push_back(s.pool->Allocate());
      auto* p = reinterpret_cast<uint64_t*>(s.storage->Block(blocks.back()));
      for (int64_t k = 0; k < g.block_bytes() / 8; ++k) p[k] = rng();
    }
    (void)s.cache->InsertBlocks("bench", t, blocks);
    for (auto b : blocks) s.pool->Unref(b);
    const double t0 = Now();
    s.cache->Evict(n);
    evict_s[round] = Now() - t0;
    s.cache->WaitIdle();
    write_s[round] = Now() - t0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  const int n = argc > 2 ? std::atoi(argv[2]) : 32;
  bool made_dir = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/cachet_pcache_bench_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
    made_dir = true;
  }
  const cachet::kv::KvGeometry g{16, 64 * 8 * 64 * 2, 64 * 8 * 64 * 2};
  const double mib = static_cast<double>(g.block_bytes() + cp::kDiskHeaderBytes) / (1 << 20);
  cp::Options o;
  o.model_fingerprint = "bench-llama-1b";
  o.disk_dir = dir;
  o.disk_cap_bytes = int64_t{64} << 30;  // both rounds stay on disk

  std::vector<cp::TokenId> tokens(static_cast<size_t>(n) * cp::kBlockTokens);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<cp::TokenId>(i * 7 + 1);
  double write_s[2], evict_s[2];
  WriteRounds(o, g, n, tokens, write_s, evict_s);
  const double t_scan = Now();
  Setup s = Open(o, g, n);
  const double scan_s = Now() - t_scan;
  DropFromPageCache(dir);
  double start_cold, start_warm;
  const double cold_s = LoadAll(s, tokens, &start_cold);
  const double warm_s = LoadAll(s, tokens, &start_warm);

  std::printf("disk tier, %d blocks of %.2f MiB (llama-1b geometry, file incl. header), dir %s\n",
              n, mib, dir.c_str());
  for (int round = 0; round < 2; ++round) {
    std::printf(
        "write (evict -> files renamed): %8.1f MB/s  (%.3f s; engine-thread Evict %.1f ms"
        ", %s buffers)\n",
        n * mib * 1.048576 / write_s[round], write_s[round], evict_s[round] * 1e3,
        round == 0 ? "fresh" : "recycled");
  }
  std::printf("scan on restart:                %8.2f ms for %d files\n", scan_s * 1e3, n);
  std::printf(
      "read, cold page cache:          %8.1f MB/s  (%.3f s; StartLoad returned in %.3f ms)\n",
      n * mib * 1.048576 / cold_s, cold_s, start_cold * 1e3);
  std::printf("read, warm page cache:          %8.1f MB/s  (%.3f s)\n", n * mib * 1.048576 / warm_s,
              warm_s);
  std::printf("measured estimate used by DecideLoad: %.1f MB/s\n",
              s.cache->stats().disk_read_bytes_per_s / 1e6);
  for (double tps : {100.0, 1000.0, 10000.0, 100000.0}) {
    const cp::LoadDecision d = s.cache->DecideLoad(62, tps);  // a 4,000-token prefix
    std::printf("  62 blocks, prefill %7.0f tok/s: load %.3f s vs recompute %.3f s -> %s\n", tps,
                d.load_s, d.recompute_s, d.load ? "load" : "recompute");
  }
  s.cache.reset();
  if (made_dir) {
    auto names = cachet::Env::Default()->ListDir(dir);
    if (names.ok()) {
      for (const auto& nm : *names)
        (void)cachet::Env::Default()->RemoveFile(cachet::JoinPath(dir, nm));
    }
    ::rmdir(dir.c_str());
  }
  return 0;
}
