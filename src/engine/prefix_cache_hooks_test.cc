// PrefixCacheHooks on a real PrefixCache (RAM only, tiny pool): one request's prompt is counted
// once in the cache's hit/miss stats, even when it is looked up twice (before a disk load and at
// admission).
#include "engine/prefix_cache_hooks.h"

#include <gtest/gtest.h>

namespace cachet::engine {
namespace {

class PrefixCacheHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<kv::BlockPool>(8);
    storage_ = std::move(kv::KvStorage::Create(kv::KvGeometry{1, 32, 32}, 8).value());
    prefix_cache::Options o;
    o.model_fingerprint = "test-model";
    auto c = prefix_cache::PrefixCache::Open(o, pool_.get(), storage_.get());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
    hooks_ = std::make_unique<PrefixCacheHooks>(cache_.get());
  }
  sched::Request Req(sched::RequestId id) {
    sched::Request r;
    r.id = id;
    r.tokens.assign(2 * prefix_cache::kBlockTokens + 5, 7);
    r.num_prompt_tokens = static_cast<int64_t>(r.tokens.size());
    return r;
  }
  std::unique_ptr<kv::BlockPool> pool_;
  std::unique_ptr<kv::KvStorage> storage_;
  std::unique_ptr<prefix_cache::PrefixCache> cache_;
  std::unique_ptr<PrefixCacheHooks> hooks_;
};

TEST_F(PrefixCacheHooksTest, AdmissionCountsTheRequestOnce) {
  sched::Request r = Req(1);
  hooks_->Track(r.id, "salt");
  EXPECT_TRUE(hooks_->MatchPrefix(r, 2).empty());
  EXPECT_EQ(cache_->stats().lookups, 1);
  EXPECT_EQ(cache_->stats().miss_blocks, 2);
  EXPECT_TRUE(hooks_->MatchPrefix(r, 2).empty());  // re-admission of the same request
  EXPECT_EQ(cache_->stats().lookups, 1);
  EXPECT_EQ(cache_->stats().miss_blocks, 2);
}

TEST_F(PrefixCacheHooksTest, AnEarlierCountedLookupIsNotCountedAgainAtAdmission) {
  sched::Request r = Req(2);
  hooks_->Track(r.id, "salt");
  // What the engine does before a disk load: a counted lookup of the prompt.
  (void)cache_->Lookup(std::span<const int32_t>(r.tokens.data(), 2 * prefix_cache::kBlockTokens),
                       "salt");
  hooks_->MarkCounted(r.id);
  EXPECT_TRUE(hooks_->MatchPrefix(r, 2).empty());
  EXPECT_EQ(cache_->stats().lookups, 1);
  EXPECT_EQ(cache_->stats().miss_blocks, 2);
  // Another request is counted on its own.
  sched::Request other = Req(3);
  hooks_->Track(other.id, "salt");
  (void)hooks_->MatchPrefix(other, 2);
  EXPECT_EQ(cache_->stats().lookups, 2);
}

}  // namespace
}  // namespace cachet::engine
