// PrefixCache RAM tier: exact block ids on a tiny pool, salt isolation, collision safety (weak
// chain functions), leaf-first LRU eviction, duplicates, stats, the load-vs-recompute rule.
#include "prefix_cache/prefix_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace cachet::prefix_cache {
namespace {

constexpr int32_t kPoolBlocks = 8;

// Block-structured prompts: block i of prompt `seed` holds seed*1000 + i*100 + j.
std::vector<TokenId> Prompt(int seed, int n_blocks, int extra = 0) {
  std::vector<TokenId> t;
  for (int i = 0; i < n_blocks * kBlockTokens + extra; ++i) {
    t.push_back(seed * 1000 + (i / kBlockTokens) * 100 + i % kBlockTokens);
  }
  return t;
}

class PrefixCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(Options{}); }
  void Open(Options o) {
    cache_.reset();
    pool_ = std::make_unique<kv::BlockPool>(kPoolBlocks);
    storage_ = std::move(kv::KvStorage::Create(kv::KvGeometry{1, 32, 32}, kPoolBlocks).value());
    if (o.model_fingerprint.empty()) o.model_fingerprint = "test-model";
    auto c = PrefixCache::Open(o, pool_.get(), storage_.get());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
  }
  // A sequence computes `tokens` into freshly allocated blocks, inserts its full blocks, and
  // finishes (drops its references). Returns the block ids it used.
  std::vector<kv::BlockId> Compute(const std::vector<TokenId>& tokens, std::string_view salt) {
    std::vector<kv::BlockId> blocks;
    for (size_t i = 0; i < tokens.size() / kBlockTokens; ++i) blocks.push_back(pool_->Allocate());
    EXPECT_TRUE(cache_->InsertBlocks(salt, tokens, blocks).ok());
    for (kv::BlockId b : blocks) pool_->Unref(b);
    return blocks;
  }
  void Release(const LookupResult& r) {
    for (kv::BlockId b : r.blocks) pool_->Unref(b);
  }

  std::unique_ptr<kv::BlockPool> pool_;
  std::unique_ptr<kv::KvStorage> storage_;
  std::unique_ptr<PrefixCache> cache_;
};

TEST_F(PrefixCacheTest, LookupReturnsExactBlockIdsAndRefsThem) {
  const auto a = Prompt(1, 3, 10);
  EXPECT_EQ(Compute(a, "t"), (std::vector<kv::BlockId>{0, 1, 2}));
  EXPECT_EQ(cache_->n_ram_blocks(), 3);
  EXPECT_EQ(pool_->n_free(), kPoolBlocks - 3);  // the cache's references keep them
  LookupResult r = cache_->Lookup(a, "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{0, 1, 2}));
  EXPECT_EQ(r.tokens_hit, 192);
  EXPECT_EQ(r.pos.n_blocks, 3);
  for (kv::BlockId b : r.blocks) EXPECT_EQ(pool_->RefCount(b), 2);
  Release(r);

  // Shares the first two blocks, then diverges in the third.
  auto b = a;
  b[2 * kBlockTokens + 5] = 7;
  r = cache_->Lookup(b, "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{0, 1}));
  Release(r);
  // Only whole blocks count: 127 tokens is one block.
  r = cache_->Lookup(std::span(a).first(127), "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{0}));
  Release(r);
  // A different first block misses everything even though later blocks are equal.
  auto c = a;
  c[0] = -5;
  r = cache_->Lookup(c, "t");
  EXPECT_TRUE(r.blocks.empty());
  EXPECT_EQ(r.pos.hash, cache_->Root("t").hash);
}

TEST_F(PrefixCacheTest, InsertChainsAndKeepsExistingBlock) {
  const auto a = Prompt(2, 2);
  Compute(a, "t");  // blocks 0, 1
  // Another sequence computed the same first block into block 2: the cache keeps block 0.
  const kv::BlockId mine = pool_->Allocate();
  ASSERT_EQ(mine, 2);
  auto r = cache_->Insert(cache_->Root("t"), std::span(a).first(kBlockTokens), mine);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->inserted);
  EXPECT_EQ(r->cached, 0);
  EXPECT_EQ(pool_->RefCount(mine), 1);
  EXPECT_EQ(cache_->stats().insert_duplicates, 1);
  // Its position is usable as the parent of the next block (which is also present: block 1).
  auto r2 = cache_->Insert(r->pos, std::span(a).subspan(kBlockTokens, kBlockTokens), mine);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->cached, 1);
  pool_->Unref(mine);
  // Bad arguments are values, not crashes.
  EXPECT_EQ(cache_->Insert(cache_->Root("t"), std::span(a).first(10), 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cache_->Insert(cache_->Root("t"), std::span(a).first(64), 7).status().code(),
            StatusCode::kInvalidArgument);  // block 7 is free
  EXPECT_EQ(cache_->Insert(cache_->Root("t"), std::span(a).first(64), 99).status().code(),
            StatusCode::kInvalidArgument);
  const auto other = Prompt(9, 1);
  EXPECT_EQ(cache_->Insert(cache_->Root("t"), other, 0).status().code(),
            StatusCode::kInvalidArgument);  // block 0 already holds a's first block
}

// Weak chain functions for faking collisions.
BlockHash HashTokensOnly(const BlockHash&, std::span<const TokenId> t) {  // ignores the parent
  return BlockHash{Sha256Of(t.data(), t.size_bytes())};
}
BlockHash HashFirstToken(const BlockHash&, std::span<const TokenId> t) {  // collides a lot
  return BlockHash{Sha256Of(t.data(), sizeof(TokenId))};
}

TEST_F(PrefixCacheTest, SaltsNeverShare) {
  const auto a = Prompt(3, 2);
  Compute(a, "tenant-a");
  LookupResult r = cache_->Lookup(a, "tenant-b");
  EXPECT_TRUE(r.blocks.empty());
  EXPECT_EQ(cache_->stats().miss_blocks, 2);
  r = cache_->Lookup(a, "tenant-a");
  EXPECT_EQ(r.blocks.size(), 2u);
  Release(r);
}

// Even when block names ignore the salt (a collision by construction), the stored salt
// fingerprint keeps tenants apart.
TEST_F(PrefixCacheTest, SaltsNeverShareEvenWhenNamesCollide) {
  Options o;
  o.chain_next = &HashTokensOnly;
  Open(o);
  const auto a = Prompt(3, 2);
  Compute(a, "tenant-a");
  LookupResult r = cache_->Lookup(a, "tenant-b");
  EXPECT_TRUE(r.blocks.empty());
  const kv::BlockId b = pool_->Allocate();
  auto ins = cache_->Insert(cache_->Root("tenant-b"), std::span(a).first(kBlockTokens), b);
  ASSERT_TRUE(ins.ok());
  EXPECT_FALSE(ins->inserted);
  EXPECT_EQ(ins->cached, kv::kNoBlock);
  EXPECT_EQ(ins->pos.uid, kDeadUid);
  EXPECT_EQ(cache_->stats().insert_collisions, 1);
  pool_->Unref(b);
}

// A hit is confirmed against the token ids, never on the name alone.
TEST_F(PrefixCacheTest, CollidingNamesAreNeverServed) {
  Options o;
  o.chain_next = &HashFirstToken;
  Open(o);
  const auto a = Prompt(4, 2);
  auto b = a;
  b[5] = 12345;  // same first token in block 0, different contents
  Compute(a, "t");
  LookupResult r = cache_->Lookup(b, "t");
  EXPECT_TRUE(r.blocks.empty());
  // Inserting b's first block collides: refused, and the refused position refuses the chain.
  const kv::BlockId b0 = pool_->Allocate(), b1 = pool_->Allocate();
  auto i0 = cache_->Insert(cache_->Root("t"), std::span(b).first(kBlockTokens), b0);
  ASSERT_TRUE(i0.ok());
  EXPECT_FALSE(i0->inserted);
  auto i1 = cache_->Insert(i0->pos, std::span(b).subspan(kBlockTokens, kBlockTokens), b1);
  ASSERT_TRUE(i1.ok());
  EXPECT_FALSE(i1->inserted);
  EXPECT_EQ(cache_->stats().insert_parent_missing, 1);
  EXPECT_EQ(pool_->RefCount(b0), 1);
  EXPECT_EQ(pool_->RefCount(b1), 1);
  pool_->Unref(b0);
  pool_->Unref(b1);
  r = cache_->Lookup(a, "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{0, 1}));
  Release(r);
}

// Names that ignore the parent: two prompts with equal second blocks but different first blocks
// get the same second-block name. The parent link (entry identity) keeps them apart.
TEST_F(PrefixCacheTest, SameBlockUnderDifferentParentIsNotServed) {
  Options o;
  o.chain_next = &HashTokensOnly;
  Open(o);
  const auto a = Prompt(5, 2);
  auto b = a;
  for (int j = 0; j < kBlockTokens; ++j) b[j] = -1 - j;  // different block 0, same block 1
  Compute(a, "t");                                       // blocks 0, 1
  Compute(b, "t");  // block 2 indexed (block 0 of b); block 3's name collides: refused
  EXPECT_EQ(cache_->stats().insert_collisions, 1);
  LookupResult r = cache_->Lookup(b, "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{2}));  // not a's block 1
  Release(r);
}

TEST_F(PrefixCacheTest, EvictsLeastRecentlyUsedUnheldBlocks) {
  Compute(Prompt(10, 1), "t");                  // block 0
  Compute(Prompt(11, 1), "t");                  // block 1
  Compute(Prompt(12, 1), "t");                  // block 2
  Release(cache_->Lookup(Prompt(10, 1), "t"));  // touch block 0: now the most recent
  EXPECT_EQ(cache_->Evict(1), 1);
  EXPECT_EQ(pool_->RefCount(1), 0);  // block 1 was the least recently used
  EXPECT_EQ(cache_->stats().ram_evictions, 1);
  // Block 2 is held by a sequence: skipped; block 0 goes instead.
  LookupResult held = cache_->Lookup(Prompt(12, 1), "t");
  EXPECT_EQ(cache_->Evict(1), 1);
  EXPECT_EQ(pool_->RefCount(0), 0);
  EXPECT_EQ(cache_->Evict(5), 0);  // only held blocks left
  Release(held);
  EXPECT_EQ(cache_->Evict(5), 1);
  EXPECT_EQ(pool_->n_free(), kPoolBlocks);
  EXPECT_EQ(cache_->n_ram_blocks(), 0);
}

// Children go before parents, so the RAM index stays prefix-closed: evicting one block of a
// three-block chain leaves the first two reachable.
TEST_F(PrefixCacheTest, EvictsLeavesBeforeTheirParents) {
  const auto a = Prompt(20, 3);
  Compute(a, "t");  // blocks 0 (oldest), 1, 2
  EXPECT_EQ(cache_->Evict(1), 1);
  EXPECT_EQ(pool_->RefCount(2), 0);
  EXPECT_EQ(pool_->RefCount(0), 1);
  LookupResult r = cache_->Lookup(a, "t");
  EXPECT_EQ(r.blocks, (std::vector<kv::BlockId>{0, 1}));
  Release(r);
}

// When evicting a leaf turns its (older) parent into a leaf, the parent is evicted before newer
// leaves: LRU order holds across the tree.
TEST_F(PrefixCacheTest, NewlyExposedOlderParentGoesFirst) {
  Compute(Prompt(30, 2), "t");  // blocks 0, 1 (older)
  Compute(Prompt(31, 1), "t");  // block 2 (newer)
  EXPECT_EQ(cache_->Evict(2), 2);
  EXPECT_EQ(pool_->RefCount(0), 0);
  EXPECT_EQ(pool_->RefCount(1), 0);
  EXPECT_EQ(pool_->RefCount(2), 1);
}

TEST_F(PrefixCacheTest, InsertRefusedWhenParentEvicted) {
  const auto a = Prompt(40, 2);
  const kv::BlockId b0 = pool_->Allocate();
  auto i0 = cache_->Insert(cache_->Root("t"), std::span(a).first(kBlockTokens), b0);
  ASSERT_TRUE(i0.ok() && i0->inserted);
  pool_->Unref(b0);  // only the cache holds it now
  EXPECT_EQ(cache_->Evict(1), 1);
  const kv::BlockId b1 = pool_->Allocate();
  auto i1 = cache_->Insert(i0->pos, std::span(a).subspan(kBlockTokens, kBlockTokens), b1);
  ASSERT_TRUE(i1.ok());
  EXPECT_FALSE(i1->inserted);  // would be an unreachable orphan
  EXPECT_EQ(cache_->n_ram_blocks(), 0);
  pool_->Unref(b1);
}

TEST_F(PrefixCacheTest, StatsCountHitsAndMissesByBlockAndToken) {
  Compute(Prompt(50, 2), "t");
  Release(cache_->Lookup(Prompt(50, 3, 20), "t"));  // 2 hits, 1 miss (partial block ignored)
  const PrefixCacheStats& s = cache_->stats();
  EXPECT_EQ(s.lookups, 1);
  EXPECT_EQ(s.ram_hit_blocks, 2);
  EXPECT_EQ(s.ram_hit_tokens, 128);
  EXPECT_EQ(s.miss_blocks, 1);
  EXPECT_EQ(s.miss_tokens, 64);
  EXPECT_EQ(s.disk_hit_blocks, 0);
  EXPECT_EQ(s.inserted_blocks, 2);
  LookupResult quiet = cache_->Lookup(Prompt(50, 3), "t", /*count_stats=*/false);
  EXPECT_EQ(quiet.blocks.size(), 2u);
  Release(quiet);
  EXPECT_EQ(cache_->stats().lookups, 1);
  EXPECT_EQ(cache_->stats().ram_hit_blocks, 2);
}

TEST_F(PrefixCacheTest, ExportIndexListsEveryBlock) {
  const auto a = Prompt(60, 2);
  Compute(a, "t");
  auto rows = cache_->ExportIndex();
  ASSERT_EQ(rows.size(), 2u);
  const BlockHash h0 = ChainNext(cache_->Root("t").hash, std::span(a).first(kBlockTokens));
  const BlockHash h1 = ChainNext(h0, std::span(a).subspan(kBlockTokens, kBlockTokens));
  std::sort(rows.begin(), rows.end(),
            [&](const IndexEntry& x, const IndexEntry& y) { return x.hash == h0 && y.hash != h0; });
  EXPECT_EQ(rows[0].hash, h0);
  EXPECT_EQ(rows[1].hash, h1);
  EXPECT_EQ(rows[1].parent, h0);
  EXPECT_EQ(rows[0].tier, Tier::kRam);
}

TEST_F(PrefixCacheTest, ClearReturnsReferences) {
  Compute(Prompt(70, 3), "t");
  cache_->Clear();
  EXPECT_EQ(pool_->n_free(), kPoolBlocks);
  EXPECT_TRUE(cache_->Lookup(Prompt(70, 3), "t").blocks.empty());
}

TEST_F(PrefixCacheTest, OpenValidatesArguments) {
  kv::BlockPool small(4);
  Options o;
  o.model_fingerprint = "m";
  EXPECT_EQ(PrefixCache::Open(o, &small, storage_.get()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PrefixCache::Open(Options{}, pool_.get(), storage_.get()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(cache_->disk_enabled());
  LookupResult none;
  none.disk_hashes.resize(1);
  EXPECT_EQ(cache_->StartLoad(none, std::vector<kv::BlockId>{0}).status().code(),
            StatusCode::kUnsupported);
}

// Randomised sequences sharing prefixes on a pool of 8 blocks: admissions (lookup, compute the
// rest, insert), finishes and evictions interleaved. Every block served by a hit must hold the KV
// of exactly that prefix (a digest of the prefix tokens written when it was computed), and in the
// end every block must come back to the free list (no leaked reference, no unevictable entry).
TEST_F(PrefixCacheTest, RandomisedSharingServesOnlyMatchingBlocksAndLeaksNothing) {
  std::mt19937 rng(11);
  struct Seq {
    std::vector<kv::BlockId> blocks;
  };
  std::vector<Seq> active;
  auto digest = [](std::span<const TokenId> prefix) {
    return Sha256Of(prefix.data(), prefix.size_bytes());
  };
  auto release = [&](size_t i) {
    for (kv::BlockId b : active[i].blocks) pool_->Unref(b);
    active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
  };
  int64_t hits = 0;
  for (int step = 0; step < 3000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      std::vector<TokenId> p;
      const int n_blocks = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n_blocks; ++i) {
        const int variant = static_cast<int>(rng() % 3);
        for (int j = 0; j < kBlockTokens; ++j) p.push_back(variant * 1000 + i * 100 + j);
      }
      for (int j = static_cast<int>(rng() % 70); j > 0; --j) p.push_back(7);
      const std::string salt = rng() % 4 == 0 ? "b" : "a";
      LookupResult r = cache_->Lookup(p, salt);
      Seq seq;
      seq.blocks = r.blocks;
      for (size_t i = 0; i < r.blocks.size(); ++i) {
        const Digest256 want = digest(std::span(p).first((i + 1) * kBlockTokens));
        ASSERT_EQ(std::memcmp(storage_->Block(r.blocks[i]), want.data(), 32), 0) << step;
        // The salt is part of the KV identity here too (another tenant's block is never served).
        ASSERT_EQ(storage_->Block(r.blocks[i])[32], static_cast<uint8_t>(salt[0]));
      }
      hits += static_cast<int64_t>(r.blocks.size());
      ChainPos pos = r.pos;
      bool ok = true;
      for (size_t i = r.blocks.size(); i < p.size() / kBlockTokens && ok; ++i) {
        kv::BlockId b = pool_->Allocate();
        if (b == kv::kNoBlock && cache_->Evict(1) == 1) b = pool_->Allocate();
        if (b == kv::kNoBlock) {
          ok = false;
          break;
        }
        seq.blocks.push_back(b);
        const Digest256 d = digest(std::span(p).first((i + 1) * kBlockTokens));
        std::memcpy(storage_->Block(b), d.data(), 32);
        storage_->Block(b)[32] = static_cast<uint8_t>(salt[0]);
        auto ins = cache_->Insert(pos, std::span(p).subspan(i * kBlockTokens, kBlockTokens), b);
        ASSERT_TRUE(ins.ok());
        pos = ins->pos;
      }
      active.push_back(seq);
      if (!ok || active.size() > 3) release(rng() % active.size());
    } else if (op < 9 && !active.empty()) {
      release(rng() % active.size());
    } else {
      cache_->Evict(static_cast<int32_t>(rng() % 3));
    }
  }
  EXPECT_GT(hits, 1000);  // the workload really shares
  while (!active.empty()) release(0);
  const int32_t in_ram = cache_->n_ram_blocks();
  EXPECT_GT(in_ram, 0);
  EXPECT_EQ(cache_->Evict(kPoolBlocks), in_ram);
  EXPECT_EQ(cache_->n_ram_blocks(), 0);
  EXPECT_EQ(pool_->n_free(), kPoolBlocks);
}

// load_s = n * (bytes / bw + 100 us); recompute_s = n * 64 / prefill tokens/s.
TEST(DecideLoadTest, PicksTheCheaperPath) {
  const int64_t two_mib = int64_t{2} << 20;
  // 1 GB/s disk, 2 MiB blocks: ~2.2 ms per block; at 500 tokens/s prefill a block is 128 ms.
  LoadDecision d = DecideLoad(10, two_mib, 1e9, 500);
  EXPECT_TRUE(d.load);
  EXPECT_NEAR(d.load_s, 10 * (two_mib / 1e9 + 100e-6), 1e-12);
  EXPECT_NEAR(d.recompute_s, 10 * 64 / 500.0, 1e-12);
  // A fast accelerator (100k tokens/s: 0.64 ms per block) beats a slow disk (100 MB/s: 21 ms).
  d = DecideLoad(10, two_mib, 100e6, 100000);
  EXPECT_FALSE(d.load);
  // The break-even point: recompute_s == load_s.
  const double per_block = two_mib / 1e9 + 100e-6;
  EXPECT_TRUE(DecideLoad(1, two_mib, 1e9, 64 / per_block * 0.99).load);
  EXPECT_FALSE(DecideLoad(1, two_mib, 1e9, 64 / per_block * 1.01).load);
  // Unknown prefill speed: load; nothing to load: no.
  EXPECT_TRUE(DecideLoad(3, two_mib, 1e9, 0).load);
  EXPECT_FALSE(DecideLoad(0, two_mib, 1e9, 500).load);
}

}  // namespace
}  // namespace cachet::prefix_cache
