// PrefixCache disk tier: byte-exact round trips, restart, every kind of damaged or foreign file,
// the size cap, failing writes (fault-injecting Env), write-through, asynchronous loads.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "prefix_cache/crc32c.h"
#include "prefix_cache/disk_format.h"
#include "prefix_cache/prefix_cache.h"

namespace cachet::prefix_cache {
namespace {

constexpr int32_t kPoolBlocks = 8;
const kv::KvGeometry kGeom{2, 256, 256};  // 1 KiB per block
const int64_t kFileBytes = static_cast<int64_t>(kDiskHeaderBytes) + 1024;

std::vector<TokenId> Prompt(int seed, int n_blocks) {
  std::vector<TokenId> t;
  for (int i = 0; i < n_blocks * kBlockTokens; ++i) t.push_back(seed * 1000 + i);
  return t;
}

// Forwards to the real Env; the Nth Append (1-based, counted across files) and every later one
// fail with "no space" while fail_from > 0.
class FaultInjectionEnv final : public Env {
 public:
  std::atomic<int> appends{0};
  std::atomic<int> fail_from{0};
  std::atomic<bool> fail_sync{false};

  Result<MappedFile> MapFile(const std::string& p) override { return base_->MapFile(p); }
  Result<std::string> ReadFile(const std::string& p) override { return base_->ReadFile(p); }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    CACHET_ASSIGN_OR_RETURN(auto f, base_->NewWritableFile(p));
    return std::unique_ptr<WritableFile>(new File(this, std::move(f)));
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<uint64_t> FileSize(const std::string& p) override { return base_->FileSize(p); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return base_->RenameFile(a, b);
  }
  Status CreateDirs(const std::string& p) override { return base_->CreateDirs(p); }
  Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override {
    return base_->ListDir(p);
  }
  int64_t NowNanos() override { return base_->NowNanos(); }
  int64_t WallMicros() override { return base_->WallMicros(); }

 private:
  class File final : public WritableFile {
   public:
    File(FaultInjectionEnv* env, std::unique_ptr<WritableFile> f) : env_(env), f_(std::move(f)) {}
    Status Append(std::string_view d) override {
      const int n = ++env_->appends;
      if (env_->fail_from > 0 && n >= env_->fail_from) return IoError("injected: no space");
      return f_->Append(d);
    }
    Status Sync() override {
      if (env_->fail_sync) return IoError("injected: fsync failed");
      return f_->Sync();
    }
    Status Close() override { return f_->Close(); }

   private:
    FaultInjectionEnv* env_;
    std::unique_ptr<WritableFile> f_;
  };
  Env* base_ = Env::Default();
};

class DiskTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cachet_disk_tier_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    cache_.reset();
    const std::vector<std::string> names = Env::Default()->ListDir(dir_).value();
    for (const auto& n : names) {
      (void)Env::Default()->RemoveFile(JoinPath(dir_, n));
    }
    ::rmdir(dir_.c_str());
  }
  Options DefaultOptions() {
    Options o;
    o.model_fingerprint = "model-x";
    o.disk_dir = dir_;
    o.disk_cap_bytes = 100 * kFileBytes;
    return o;
  }
  // A fresh pool, storage and cache (as after a restart) over the same directory.
  void Open(const Options& o, const kv::KvGeometry& g = kGeom) {
    cache_.reset();
    pool_ = std::make_unique<kv::BlockPool>(kPoolBlocks);
    storage_ = std::move(kv::KvStorage::Create(g, kPoolBlocks).value());
    auto c = PrefixCache::Open(o, pool_.get(), storage_.get());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
  }
  static uint8_t Pattern(int seed, int64_t i) { return static_cast<uint8_t>(seed * 31 + i * 7); }
  // Computes `tokens` into new blocks filled with a pattern, inserts them, finishes the sequence.
  std::vector<kv::BlockId> Compute(const std::vector<TokenId>& tokens, int seed) {
    std::vector<kv::BlockId> blocks;
    for (size_t i = 0; i < tokens.size() / kBlockTokens; ++i) {
      const kv::BlockId b = pool_->Allocate();
      for (int64_t k = 0; k < storage_->geometry().block_bytes(); ++k) {
        storage_->Block(b)[k] = Pattern(seed + static_cast<int>(i), k);
      }
      blocks.push_back(b);
    }
    EXPECT_TRUE(cache_->InsertBlocks("s", tokens, blocks).ok());
    for (kv::BlockId b : blocks) pool_->Unref(b);
    return blocks;
  }
  bool BlockHasPattern(kv::BlockId b, int seed) {
    for (int64_t k = 0; k < storage_->geometry().block_bytes(); ++k) {
      if (storage_->Block(b)[k] != Pattern(seed, k)) return false;
    }
    return true;
  }
  // Looks up `tokens`, loads every disk block the lookup offers into new blocks, waits.
  LoadDone LoadAll(const std::vector<TokenId>& tokens, std::vector<kv::BlockId>* dest,
                   int expect_disk_blocks) {
    LookupResult r = cache_->Lookup(tokens, "s");
    EXPECT_EQ(r.disk_blocks(), expect_disk_blocks);
    for (int i = 0; i < r.disk_blocks(); ++i) dest->push_back(pool_->Allocate());
    if (dest->empty()) return LoadDone{};
    auto id = cache_->StartLoad(r, *dest);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto done = cache_->WaitIdle();
    EXPECT_EQ(done.size(), 1u);
    for (kv::BlockId b : r.blocks) pool_->Unref(b);
    return done.empty() ? LoadDone{} : done[0];
  }
  std::vector<std::string> BlockFiles() {
    std::vector<std::string> out;
    const std::vector<std::string> names = Env::Default()->ListDir(dir_).value();
    for (const auto& n : names) {
      BlockHash h;
      if (ParseDiskFileName(n, &h)) out.push_back(JoinPath(dir_, n));
    }
    return out;
  }
  std::string PathOfBlock(const std::vector<TokenId>& tokens, int index) {
    BlockHash h = ChainRoot("model-x", "s");
    for (int i = 0; i <= index; ++i) {
      h = ChainNext(h, std::span(tokens).subspan(i * kBlockTokens, kBlockTokens));
    }
    return JoinPath(dir_, DiskFileName(h));
  }
  static void Rewrite(const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes).ok());
  }

  std::string dir_;
  std::unique_ptr<kv::BlockPool> pool_;
  std::unique_ptr<kv::KvStorage> storage_;
  std::unique_ptr<PrefixCache> cache_;
};

TEST_F(DiskTierTest, EvictionSpillsAndLoadRestoresExactBytes) {
  Open(DefaultOptions());
  const auto a = Prompt(1, 3);
  Compute(a, 10);  // blocks 0, 1, 2 with patterns 10, 11, 12
  EXPECT_EQ(cache_->Evict(3), 3);
  EXPECT_EQ(pool_->n_free(), kPoolBlocks);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->n_disk_blocks(), 3);
  EXPECT_EQ(cache_->disk_bytes(), 3 * kFileBytes);
  EXPECT_EQ(cache_->stats().disk_writes, 3);
  EXPECT_EQ(cache_->stats().disk_bytes_written, 3 * kFileBytes);
  EXPECT_EQ(BlockFiles().size(), 3u);
  for (kv::BlockId b = 0; b < kPoolBlocks; ++b) std::memset(storage_->Block(b), 0, 1024);

  std::vector<kv::BlockId> dest;
  LoadDone d = LoadAll(a, &dest, 3);
  EXPECT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.n_loaded, 3);
  EXPECT_EQ(d.pos.n_blocks, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(BlockHasPattern(dest[i], 10 + i)) << i;
  EXPECT_EQ(cache_->stats().disk_loaded_blocks, 3);
  EXPECT_EQ(cache_->stats().disk_bytes_read, 3 * kFileBytes);
  EXPECT_GT(cache_->stats().disk_read_bytes_per_s, 0);
  // Loaded blocks are indexed in RAM: the next lookup hits them there.
  for (kv::BlockId b : dest) pool_->Unref(b);
  LookupResult r = cache_->Lookup(a, "s");
  EXPECT_EQ(r.blocks, dest);
  EXPECT_EQ(r.disk_blocks(), 0);
  for (kv::BlockId b : r.blocks) pool_->Unref(b);
  // Other tenants see nothing on disk either.
  EXPECT_EQ(cache_->Lookup(Prompt(1, 3), "other").disk_blocks(), 0);
}

// MLA layout (issue 4): per layer only K = [64 tokens, kv_lora_rank + rope_dim], no V. The block
// is opaque bytes to the disk tier; the geometry in the header must match.
TEST_F(DiskTierTest, MlaGeometryRoundTrip) {
  const kv::KvGeometry mla{3, 64 * (32 + 8) * 2, 0};  // 3 layers, latent 32 + rope 8, f16
  Open(DefaultOptions(), mla);
  const auto a = Prompt(18, 2);
  Compute(a, 180);
  cache_->Evict(2);
  Open(DefaultOptions(), mla);  // restart
  ASSERT_EQ(cache_->n_disk_blocks(), 2);
  std::vector<kv::BlockId> dest;
  EXPECT_EQ(LoadAll(a, &dest, 2).n_loaded, 2);
  EXPECT_TRUE(BlockHasPattern(dest[0], 180));
  EXPECT_TRUE(BlockHasPattern(dest[1], 181));
  for (kv::BlockId b : dest) pool_->Unref(b);
  Open(DefaultOptions());  // a GQA geometry over the same directory: foreign
  EXPECT_EQ(cache_->n_disk_blocks(), 0);
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 2);
}

TEST_F(DiskTierTest, RestartFindsBlocks) {
  Open(DefaultOptions());
  const auto a = Prompt(2, 2);
  Compute(a, 20);
  cache_->Evict(2);
  Open(DefaultOptions());  // the destructor finished the writes; a new cache scans the directory
  EXPECT_EQ(cache_->n_disk_blocks(), 2);
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 0);
  auto rows = cache_->ExportIndex();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].tier, Tier::kDisk);
  std::vector<kv::BlockId> dest;
  LoadDone d = LoadAll(a, &dest, 2);
  EXPECT_EQ(d.n_loaded, 2);
  EXPECT_TRUE(BlockHasPattern(dest[0], 20));
  EXPECT_TRUE(BlockHasPattern(dest[1], 21));
  // A longer prompt: the disk hit is still the cached prefix.
  EXPECT_EQ(cache_->Lookup(Prompt(2, 4), "s").blocks.size(), 2u);
}

TEST_F(DiskTierTest, ScanRemovesTruncatedFlippedAndTempFilesKeepsOthers) {
  Open(DefaultOptions());
  const auto a = Prompt(3, 3);
  Compute(a, 30);
  cache_->Evict(3);
  cache_.reset();
  const std::string f0 = PathOfBlock(a, 0), f1 = PathOfBlock(a, 1), f2 = PathOfBlock(a, 2);
  std::string bytes = Env::Default()->ReadFile(f1).value();
  Rewrite(f1, bytes.substr(0, bytes.size() - 100));  // truncated payload
  bytes = Env::Default()->ReadFile(f2).value();
  bytes[40] ^= 1;  // a header byte (v_bytes)
  Rewrite(f2, bytes);
  Rewrite(JoinPath(dir_, "notes.txt"), "not a block");
  Rewrite(f0 + ".tmp", "half a write");
  Open(DefaultOptions());
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 2);
  EXPECT_EQ(cache_->n_disk_blocks(), 1);
  EXPECT_FALSE(Env::Default()->FileExists(f1));
  EXPECT_FALSE(Env::Default()->FileExists(f2));
  EXPECT_FALSE(Env::Default()->FileExists(f0 + ".tmp"));
  EXPECT_TRUE(Env::Default()->FileExists(JoinPath(dir_, "notes.txt")));
  std::vector<kv::BlockId> dest;
  EXPECT_EQ(LoadAll(a, &dest, 1).n_loaded, 1);
}

// A payload byte flipped: the header is fine (so the scan keeps the file) but the load's
// checksum fails; the block is not served, the file is deleted, later blocks are not loaded.
TEST_F(DiskTierTest, FlippedPayloadByteIsDetectedAtLoad) {
  Open(DefaultOptions());
  const auto a = Prompt(4, 3);
  Compute(a, 40);
  cache_->Evict(3);
  cache_.reset();
  const std::string f1 = PathOfBlock(a, 1);
  std::string bytes = Env::Default()->ReadFile(f1).value();
  bytes[kDiskHeaderBytes + 500] ^= 0x80;
  Rewrite(f1, bytes);
  Open(DefaultOptions());
  EXPECT_EQ(cache_->n_disk_blocks(), 3);
  std::vector<kv::BlockId> dest;
  LoadDone d = LoadAll(a, &dest, 3);
  EXPECT_EQ(d.n_loaded, 1);
  EXPECT_EQ(d.status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 1);
  EXPECT_EQ(cache_->stats().disk_load_failed_blocks, 2);
  EXPECT_FALSE(Env::Default()->FileExists(f1));
  EXPECT_EQ(cache_->n_disk_blocks(), 2);  // block 2 stays on disk but is unreachable now
  for (kv::BlockId b : dest) pool_->Unref(b);
  LookupResult r = cache_->Lookup(a, "s");
  EXPECT_EQ(r.blocks.size(), 1u);  // only block 0 was served
  EXPECT_EQ(r.disk_blocks(), 0);
  for (kv::BlockId b : r.blocks) pool_->Unref(b);
}

// Files of another model or geometry are foreign: removed at scan, never served.
TEST_F(DiskTierTest, ForeignModelOrGeometryIsRejected) {
  Open(DefaultOptions());
  Compute(Prompt(5, 2), 50);
  cache_->Evict(2);
  Options other = DefaultOptions();
  other.model_fingerprint = "model-y";
  Open(other);
  EXPECT_EQ(cache_->n_disk_blocks(), 0);
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 2);
  EXPECT_TRUE(BlockFiles().empty());

  Open(DefaultOptions());
  Compute(Prompt(5, 1), 50);
  cache_->Evict(1);
  cache_.reset();
  pool_ = std::make_unique<kv::BlockPool>(kPoolBlocks);
  storage_ = std::move(kv::KvStorage::Create(kv::KvGeometry{2, 512, 0}, kPoolBlocks).value());
  auto c = PrefixCache::Open(DefaultOptions(), pool_.get(), storage_.get());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->n_disk_blocks(), 0);
  EXPECT_EQ((*c)->stats().disk_corrupt_skipped, 1);
}

// Token ids changed in a header with valid checksums: the scan recomputes the block's name from
// parent and token ids and refuses it; a file swapped in after the scan is refused at load
// against the index's copy of the token ids.
TEST_F(DiskTierTest, WrongTokenIdsAreRejected) {
  Open(DefaultOptions());
  const auto a = Prompt(6, 2);
  Compute(a, 60);
  cache_->Evict(2);
  cache_->WaitIdle();
  const std::string f1 = PathOfBlock(a, 1);
  std::string bytes = Env::Default()->ReadFile(f1).value();
  DiskBlockHeader h;
  ASSERT_TRUE(
      DecodeDiskHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &h).ok());
  h.tokens[3] += 1;
  const std::string forged = EncodeDiskHeader(h) + bytes.substr(kDiskHeaderBytes);
  Rewrite(f1, forged);  // the running cache indexed the genuine file
  std::vector<kv::BlockId> dest;
  LoadDone d = LoadAll(a, &dest, 2);
  EXPECT_EQ(d.n_loaded, 1);
  EXPECT_EQ(d.status.code(), StatusCode::kCorrupt);
  for (kv::BlockId b : dest) pool_->Unref(b);
  EXPECT_FALSE(Env::Default()->FileExists(f1));

  Rewrite(f1, forged);
  Open(DefaultOptions());
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 1);
  EXPECT_FALSE(Env::Default()->FileExists(f1));
}

TEST_F(DiskTierTest, SizeCapRemovesOldestFiles) {
  Options o = DefaultOptions();
  o.disk_cap_bytes = 2 * kFileBytes;
  Open(o);
  const auto a = Prompt(7, 3);
  Compute(a, 70);
  // Leaf-first: block 2 is written first, then 1, then 0; the cap removes block 2's file.
  EXPECT_EQ(cache_->Evict(3), 3);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->n_disk_blocks(), 2);
  EXPECT_LE(cache_->disk_bytes(), o.disk_cap_bytes);
  EXPECT_EQ(cache_->stats().disk_evictions, 1);
  EXPECT_FALSE(Env::Default()->FileExists(PathOfBlock(a, 2)));
  EXPECT_EQ(BlockFiles().size(), 2u);
  std::vector<kv::BlockId> dest;
  EXPECT_EQ(LoadAll(a, &dest, 2).n_loaded, 2);
  for (kv::BlockId b : dest) pool_->Unref(b);
  // A smaller cap at restart trims the directory, oldest first.
  o.disk_cap_bytes = kFileBytes;
  Open(o);
  EXPECT_EQ(cache_->n_disk_blocks(), 1);
  cache_->WaitIdle();
  EXPECT_EQ(BlockFiles().size(), 1u);
  // A cap smaller than one file: nothing is written.
  o.disk_cap_bytes = kFileBytes - 1;
  Open(o);
  Compute(Prompt(8, 1), 80);
  cache_->Evict(1);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->stats().disk_spills_dropped, 1);
}

// A write queue smaller than the burst: Evict waits for the I/O thread instead of dropping.
TEST_F(DiskTierTest, FullWriteQueueAppliesBackpressureNotLoss) {
  Options o = DefaultOptions();
  o.max_pending_write_bytes = kFileBytes;
  Open(o);
  const auto a = Prompt(14, 4);
  Compute(a, 140);
  EXPECT_EQ(cache_->Evict(4), 4);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->stats().disk_spills_dropped, 0);
  EXPECT_EQ(cache_->stats().disk_writes, 4);
  std::vector<kv::BlockId> dest;
  EXPECT_EQ(LoadAll(a, &dest, 4).n_loaded, 4);
  EXPECT_TRUE(BlockHasPattern(dest[3], 143));
}

// Write-through writes a chain root first, so its first block is the oldest file; the cap still
// removes leaves only, so the chain shrinks from its end and never loses its start.
TEST_F(DiskTierTest, CapRemovesLeavesFirstWhateverTheWriteOrder) {
  Options o = DefaultOptions();
  o.disk_cap_bytes = 3 * kFileBytes;
  o.write_policy = WritePolicy::kWriteThrough;
  Open(o);
  const auto a = Prompt(15, 3);
  Compute(a, 150);
  cache_->WaitIdle();
  ASSERT_EQ(cache_->n_disk_blocks(), 3);
  Compute(Prompt(16, 1), 160);  // needs room: the only leaf, a's block 2, goes
  cache_->WaitIdle();
  EXPECT_EQ(cache_->n_disk_blocks(), 3);
  EXPECT_FALSE(Env::Default()->FileExists(PathOfBlock(a, 2)));
  EXPECT_TRUE(Env::Default()->FileExists(PathOfBlock(a, 0)));
  cache_->Clear();
  EXPECT_EQ(cache_->Lookup(a, "s").disk_blocks(), 2);

  // A write whose only room would come from its own ancestors is dropped instead.
  o.disk_cap_bytes = 2 * kFileBytes;
  Open(o);
  cache_->WaitIdle();
  ASSERT_EQ(cache_->n_disk_blocks(), 2);  // the restart trimmed a leaf
  const auto b = Prompt(17, 3);
  for (int i = 0; i < 3; ++i) {  // one block at a time, each write finishing before the next
    Compute(std::vector<TokenId>(b.begin(), b.begin() + (i + 1) * kBlockTokens), 170);
    cache_->WaitIdle();
  }
  EXPECT_EQ(cache_->stats().disk_spills_dropped, 1);
  EXPECT_TRUE(Env::Default()->FileExists(PathOfBlock(b, 0)));
  EXPECT_TRUE(Env::Default()->FileExists(PathOfBlock(b, 1)));
  cache_->Clear();
  EXPECT_EQ(cache_->Lookup(b, "s").disk_blocks(), 2);
}

TEST_F(DiskTierTest, FailedWritesAreCountedAndLeaveNoFiles) {
  FaultInjectionEnv env;
  env.fail_from = 3;  // block 2's header and payload succeed, block 1's header fails
  Options o = DefaultOptions();
  o.env = &env;
  Open(o);
  const auto a = Prompt(9, 3);
  Compute(a, 90);
  cache_->Evict(3);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->stats().disk_writes, 1);
  EXPECT_EQ(cache_->stats().disk_write_errors, 2);
  EXPECT_EQ(cache_->n_disk_blocks(), 1);
  EXPECT_EQ(Env::Default()->ListDir(dir_).value().size(), 1u);  // no temp files left behind
  env.fail_from = 0;
  Open(o);
  EXPECT_EQ(cache_->n_disk_blocks(), 1);
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 0);
  EXPECT_EQ(cache_->Lookup(a, "s").disk_blocks(), 0);  // block 0 is missing: no prefix on disk
}

TEST_F(DiskTierTest, FailedFsyncFailsTheWrite) {
  FaultInjectionEnv env;
  env.fail_sync = true;
  Options o = DefaultOptions();
  o.env = &env;
  o.sync_writes = true;
  Open(o);
  Compute(Prompt(10, 2), 100);
  cache_->Evict(2);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->stats().disk_write_errors, 2);
  EXPECT_EQ(cache_->n_disk_blocks(), 0);
  EXPECT_TRUE(Env::Default()->ListDir(dir_).value().empty());
  env.fail_sync = false;
  Compute(Prompt(10, 2), 100);
  cache_->Evict(2);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->n_disk_blocks(), 2);
}

BlockHash HashFirstToken(const BlockHash&, std::span<const TokenId> t) {
  return BlockHash{Sha256Of(t.data(), sizeof(TokenId))};
}

// On disk too, a name match alone is never a hit: token ids are compared from the index.
TEST_F(DiskTierTest, CollidingNamesOnDiskAreNeverServed) {
  Options o = DefaultOptions();
  o.chain_next = &HashFirstToken;
  Open(o);
  const auto a = Prompt(13, 2);
  Compute(a, 130);
  cache_->Evict(2);
  cache_->WaitIdle();
  ASSERT_EQ(cache_->n_disk_blocks(), 2);
  auto b = a;
  b[10] = -3;  // same first token (same name), different block
  EXPECT_EQ(cache_->Lookup(b, "s").disk_blocks(), 0);
  EXPECT_EQ(cache_->Lookup(a, "s").disk_blocks(), 2);
  EXPECT_EQ(cache_->Lookup(a, "other-salt").disk_blocks(), 0);
}

TEST_F(DiskTierTest, WriteThroughAndAsyncNotification) {
  std::atomic<int> notified{0};
  Options o = DefaultOptions();
  o.write_policy = WritePolicy::kWriteThrough;
  o.notify_io_done = [&notified] { notified.fetch_add(1); };
  Open(o);
  const auto a = Prompt(11, 2);
  Compute(a, 110);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->n_disk_blocks(), 2);  // written without any eviction
  EXPECT_EQ(notified.load(), 2);
  EXPECT_EQ(cache_->Evict(2), 2);
  cache_->WaitIdle();
  EXPECT_EQ(cache_->stats().disk_writes, 2);  // eviction wrote nothing more

  LookupResult r = cache_->Lookup(a, "s");
  ASSERT_EQ(r.disk_blocks(), 2);
  std::vector<kv::BlockId> dest{pool_->Allocate(), pool_->Allocate()};
  auto id = cache_->StartLoad(r, dest);
  ASSERT_TRUE(id.ok());
  std::vector<LoadDone> done;
  while (done.empty()) {  // the engine's loop: poll between steps
    done = cache_->Poll();
    if (done.empty()) std::this_thread::yield();
  }
  EXPECT_EQ(done[0].id, *id);
  EXPECT_EQ(done[0].n_loaded, 2);
  EXPECT_GE(notified.load(), 3);
  EXPECT_TRUE(BlockHasPattern(dest[0], 110));
  for (kv::BlockId b : dest) pool_->Unref(b);
}

TEST_F(DiskTierTest, StartLoadValidatesArguments) {
  Open(DefaultOptions());
  const auto a = Prompt(12, 2);
  Compute(a, 120);
  cache_->Evict(2);
  cache_->WaitIdle();
  LookupResult r = cache_->Lookup(a, "s");
  ASSERT_EQ(r.disk_blocks(), 2);
  const kv::BlockId b = pool_->Allocate();
  EXPECT_EQ(cache_->StartLoad(r, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cache_->StartLoad(r, std::vector<kv::BlockId>{b, b}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cache_->StartLoad(r, std::vector<kv::BlockId>{b, 7}).status().code(),
            StatusCode::kInvalidArgument);  // 7 is free
  EXPECT_EQ(cache_->StartLoad(r, std::vector<kv::BlockId>{b, 1, 2}).status().code(),
            StatusCode::kInvalidArgument);  // more than the disk has
  // Loading fewer blocks than offered is fine.
  auto id = cache_->StartLoad(r, std::vector<kv::BlockId>{b});
  ASSERT_TRUE(id.ok());
  auto done = cache_->WaitIdle();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].n_loaded, 1);
  EXPECT_TRUE(done[0].status.ok());
  pool_->Unref(b);
  // The measured bandwidth now drives the member DecideLoad.
  const LoadDecision d = cache_->DecideLoad(4, 1000.0);
  EXPECT_NEAR(
      d.load_s,
      DecideLoad(4, kGeom.block_bytes(), cache_->stats().disk_read_bytes_per_s, 1000.0).load_s,
      1e-12);
}

// Randomised sessions over RAM and disk with a tight pool (8 blocks), a tight cap (6 files) and
// restarts: every block served — a RAM hit or a disk load — must hold the KV of exactly its
// prefix; at the end nothing leaks and the directory matches the index. (One long scenario: the
// admission steps share the pool, the cache and the sequences' references.)
TEST_F(DiskTierTest, RandomisedRamAndDiskServeOnlyMatchingBlocks) {
  Options o = DefaultOptions();
  o.disk_cap_bytes = 6 * kFileBytes;
  Open(o);
  std::mt19937 rng(5);
  std::vector<std::vector<kv::BlockId>> active;
  auto release = [&](size_t i) {
    for (kv::BlockId b : active[i]) pool_->Unref(b);
    active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
  };
  auto sign = [&](kv::BlockId b, std::span<const TokenId> prefix) {
    const Digest256 d = Sha256Of(prefix.data(), prefix.size_bytes());
    std::memcpy(storage_->Block(b), d.data(), 32);
  };
  auto signed_ok = [&](kv::BlockId b, std::span<const TokenId> prefix) {
    const Digest256 d = Sha256Of(prefix.data(), prefix.size_bytes());
    return std::memcmp(storage_->Block(b), d.data(), 32) == 0;
  };
  auto alloc = [&]() {
    kv::BlockId b = pool_->Allocate();
    if (b == kv::kNoBlock && cache_->Evict(1) == 1) b = pool_->Allocate();
    return b;
  };
  int64_t ram_hits = 0, loaded = 0;
  for (int step = 0; step < 400; ++step) {
    const int op = static_cast<int>(rng() % 20);
    if (op < 12) {
      std::vector<TokenId> p;
      const int n_blocks = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n_blocks; ++i) {
        const int v = static_cast<int>(rng() % 2);
        for (int j = 0; j < kBlockTokens; ++j) p.push_back(v * 1000 + i * 100 + j);
      }
      LookupResult r = cache_->Lookup(p, "s");
      std::vector<kv::BlockId> held = r.blocks;
      for (size_t i = 0; i < r.blocks.size(); ++i) {
        ASSERT_TRUE(signed_ok(r.blocks[i], std::span(p).first((i + 1) * kBlockTokens))) << step;
      }
      ram_hits += static_cast<int64_t>(r.blocks.size());
      ChainPos pos = r.pos;
      size_t next = r.blocks.size();
      if (r.disk_blocks() > 0) {
        std::vector<kv::BlockId> dest;
        for (int i = 0; i < r.disk_blocks(); ++i) {
          const kv::BlockId b = alloc();
          if (b == kv::kNoBlock) break;
          dest.push_back(b);
        }
        if (!dest.empty()) {
          ASSERT_TRUE(cache_->StartLoad(r, dest).ok());
          auto done = cache_->WaitIdle();
          ASSERT_EQ(done.size(), 1u);
          for (int i = 0; i < done[0].n_loaded; ++i) {
            ASSERT_TRUE(signed_ok(dest[i], std::span(p).first((next + i + 1) * kBlockTokens)));
          }
          loaded += done[0].n_loaded;
          next += static_cast<size_t>(done[0].n_loaded);
          pos = done[0].pos;
          held.insert(held.end(), dest.begin(), dest.begin() + done[0].n_loaded);
          for (size_t i = static_cast<size_t>(done[0].n_loaded); i < dest.size(); ++i) {
            pool_->Unref(dest[i]);
          }
        }
      }
      for (size_t i = next; i < p.size() / kBlockTokens; ++i) {
        const kv::BlockId b = alloc();
        if (b == kv::kNoBlock) break;
        held.push_back(b);
        sign(b, std::span(p).first((i + 1) * kBlockTokens));
        auto ins = cache_->Insert(pos, std::span(p).subspan(i * kBlockTokens, kBlockTokens), b);
        ASSERT_TRUE(ins.ok());
        pos = ins->pos;
      }
      active.push_back(held);
      if (active.size() > 2) release(rng() % active.size());
    } else if (op < 17 && !active.empty()) {
      release(rng() % active.size());
    } else if (op < 19) {
      cache_->Evict(static_cast<int32_t>(rng() % 4));
    } else {
      while (!active.empty()) release(0);
      Open(o);  // restart: new pool, storage and cache over the same directory
    }
  }
  EXPECT_GT(ram_hits, 50);
  EXPECT_GT(loaded, 20);
  while (!active.empty()) release(0);
  cache_->Evict(kPoolBlocks);
  cache_->WaitIdle();
  EXPECT_EQ(pool_->n_free(), kPoolBlocks);
  EXPECT_LE(cache_->disk_bytes(), o.disk_cap_bytes);
  EXPECT_EQ(static_cast<int32_t>(BlockFiles().size()), cache_->n_disk_blocks());
  EXPECT_EQ(cache_->stats().disk_corrupt_skipped, 0);
}

}  // namespace
}  // namespace cachet::prefix_cache
