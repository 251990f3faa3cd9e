#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace cachet::sched {
namespace {

using kv::BlockId;
using kv::BlockPool;

std::vector<int32_t> Toks(int n, int salt = 0) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = 100 * salt + i;
  return v;
}

// Runs the plan as a model would: every sequence that reaches its end samples token 7.
StepResult SampleAll(const StepPlan& plan) {
  StepResult r;
  for (const auto& s : plan.seqs) {
    if (s.samples) r.sampled.push_back({s.id, 7});
  }
  return r;
}

ScheduledSeq Seq(RequestId id, int64_t start, int64_t n, bool samples) {
  return {id, start, n, samples};
}

void ExpectSeqs(const StepPlan& plan, const std::vector<ScheduledSeq>& want) {
  ASSERT_EQ(plan.seqs.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(plan.seqs[i].id, want[i].id) << i;
    EXPECT_EQ(plan.seqs[i].start_pos, want[i].start_pos) << i;
    EXPECT_EQ(plan.seqs[i].n_tokens, want[i].n_tokens) << i;
    EXPECT_EQ(plan.seqs[i].samples, want[i].samples) << i;
  }
}

std::vector<BlockId> Blocks(const Scheduler& s, RequestId id) { return s.Find(id)->blocks; }

TEST(Scheduler, ChunkedPrefillThenDecode) {
  BlockPool pool(8);
  Scheduler s({.block_tokens = 4, .max_batch_tokens = 6}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(10)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 6, false)});
  EXPECT_EQ(p.admitted, std::vector<RequestId>{1});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1}));
  s.Update(p, SampleAll(p));
  EXPECT_EQ(s.Find(1)->num_computed_tokens, 6);
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 6, 4, true)});
  EXPECT_TRUE(p.admitted.empty());
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 2}));
  s.Update(p, SampleAll(p));
  EXPECT_EQ(s.Find(1)->num_tokens(), 11);
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 10, 1, true)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();  // position 11 still fits block 2; 12 needs block 3
  ExpectSeqs(p, {Seq(1, 11, 1, true)});
  EXPECT_EQ(Blocks(s, 1).size(), 3u);
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 12, 1, true)});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 2, 3}));
  s.Update(p, {.sampled = {}, .finished = {1}});
  EXPECT_EQ(s.Find(1), nullptr);
  EXPECT_EQ(pool.n_free(), 8);
  EXPECT_TRUE(s.Schedule().empty());
}

TEST(Scheduler, DecodesFirstThenAdmitsUnderTheTokenBudget) {
  BlockPool pool(16);
  Scheduler s({.block_tokens = 4, .max_batch_tokens = 5}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(3)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 3, true)});
  s.Update(p, SampleAll(p));
  ASSERT_TRUE(s.Add(2, Toks(9, 1)));
  ASSERT_TRUE(s.Add(3, Toks(2, 2)));
  p = s.Schedule();
  // 1 decodes (1 token), 2 gets the remaining 4; 3 waits for budget.
  ExpectSeqs(p, {Seq(1, 3, 1, true), Seq(2, 0, 4, false)});
  EXPECT_EQ(p.n_tokens, 5);
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{1}));
  EXPECT_EQ(s.waiting(), std::deque<RequestId>{3});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 4, 1, true), Seq(2, 4, 4, false)});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 2}));
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{1, 3}));
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 5, 1, true), Seq(2, 8, 1, true), Seq(3, 0, 2, true)});
  EXPECT_EQ(p.admitted, std::vector<RequestId>{3});
}

TEST(Scheduler, DecodesGoBeforeAnOlderSequencesPrefillChunks) {
  BlockPool pool(16);
  Scheduler s({.block_tokens = 4, .max_batch_tokens = 6}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(20)));  // long prompt, admitted first
  ASSERT_TRUE(s.Add(2, Toks(3, 1)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 6, false)});  // 1 takes the whole budget; 2 waits
  s.Update(p, SampleAll(p));
  ASSERT_TRUE(s.Add(3, Toks(2, 2)));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 6, 6, false)});  // still no budget for 2 (FCFS)
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 12, 6, false)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();  // 1 needs 2 more; 2 (3 tokens) and 3 (1 of 2) get the rest
  ExpectSeqs(p, {Seq(1, 18, 2, true), Seq(2, 0, 3, true), Seq(3, 0, 1, false)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  // 1 and 2 decode first; then 3's remaining prefill token.
  ExpectSeqs(p, {Seq(1, 20, 1, true), Seq(2, 3, 1, true), Seq(3, 1, 1, true)});
  s.Update(p, SampleAll(p));
  // A newer prefill behind an older decode is the normal order; the interesting case is an
  // older sequence mid-prefill (re-admitted after preemption, say) with newer ones decoding:
  ASSERT_TRUE(s.Remove(1));
  ASSERT_TRUE(s.Add(4, Toks(30, 4)));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(2, 4, 1, true), Seq(3, 2, 1, true), Seq(4, 0, 4, false)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(2, 5, 1, true), Seq(3, 3, 1, true), Seq(4, 4, 4, false)});
}

TEST(Scheduler, PrefillOfAnOlderSequenceUnschedulesANewerDecodeItPreempts) {
  BlockPool pool(3);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 16, .max_prefill_chunk = 2}, &pool,
              nullptr);
  ASSERT_TRUE(s.Add(1, Toks(6)));
  ASSERT_TRUE(s.Add(2, Toks(2, 1)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 2, false), Seq(2, 0, 2, true)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  // The decode pass gives 2 the last free block (2) for position 2; then 1's chunk (positions
  // 2-3) needs a block: 2 is the newest, so it is unscheduled and preempted, and 1 takes its
  // blocks.
  ExpectSeqs(p, {Seq(1, 2, 2, false)});
  EXPECT_EQ(p.n_tokens, 2);
  EXPECT_EQ(p.preempted, std::vector<RequestId>{2});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1}));
  EXPECT_EQ(s.waiting(), std::deque<RequestId>{2});
  EXPECT_EQ(pool.n_free(), 1);
}

TEST(Scheduler, MaxRunningAndChunkCapAndFcfs) {
  BlockPool pool(16);
  Scheduler s({.block_tokens = 4, .max_batch_tokens = 100, .max_running = 2,
               .max_prefill_chunk = 3},
              &pool, nullptr);
  for (RequestId id = 1; id <= 3; ++id) ASSERT_TRUE(s.Add(id, Toks(5, id)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 3, false), Seq(2, 0, 3, false)});
  EXPECT_EQ(s.waiting(), std::deque<RequestId>{3});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 3, 2, true), Seq(2, 3, 2, true)});
  s.Update(p, {.sampled = {{1, 7}}, .finished = {2}});
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 5, 1, true), Seq(3, 0, 3, false)});
  // 2's blocks {1, 3} were freed (3 first, then 1): 3 gets 1 back first.
  EXPECT_EQ(Blocks(s, 3), (std::vector<BlockId>{1}));
}

TEST(Scheduler, PreemptsTheNewestByRecomputeAndRequeuesItFirst) {
  BlockPool pool(4);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 16}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(3)));
  ASSERT_TRUE(s.Add(2, Toks(3, 1)));
  ASSERT_TRUE(s.Add(3, Toks(1, 2)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 3, true), Seq(2, 0, 3, true)});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1}));
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{2, 3}));
  s.Update(p, SampleAll(p));
  p = s.Schedule();  // position 3 fits both sequences' second block
  ExpectSeqs(p, {Seq(1, 3, 1, true), Seq(2, 3, 1, true)});
  s.Update(p, SampleAll(p));
  // Position 4 needs a third block each: 1 takes 2's blocks, 2 goes back to the queue front.
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 4, 1, true)});
  EXPECT_EQ(p.preempted, std::vector<RequestId>{2});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 2}));
  EXPECT_EQ(s.waiting(), (std::deque<RequestId>{2, 3}));
  const Request* r2 = s.Find(2);
  EXPECT_EQ(r2->num_computed_tokens, 0);
  EXPECT_EQ(r2->num_tokens(), 5);  // generated tokens are kept, recomputed on re-admission
  EXPECT_EQ(r2->num_preemptions, 1);
  EXPECT_TRUE(r2->blocks.empty());
  s.Update(p, {.sampled = {}, .finished = {1}});
  p = s.Schedule();  // 2 recomputes all 5 tokens, then 3 is admitted
  ExpectSeqs(p, {Seq(2, 0, 5, true), Seq(3, 0, 1, true)});
  EXPECT_TRUE(p.admitted == std::vector<RequestId>{3});  // 2 is a re-admission
  EXPECT_EQ(pool.n_free(), 0);
}

TEST(Scheduler, NewestPreemptsItselfWhenOlderOnesHoldTheBlocks) {
  BlockPool pool(3);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 16}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(4)));
  ASSERT_TRUE(s.Add(2, Toks(1, 1)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 4, true), Seq(2, 0, 1, true)});
  s.Update(p, SampleAll(p));
  p = s.Schedule();
  // 1 needs a third block for position 4 and takes 2's; then 2 (position 1) still fits its block.
  EXPECT_EQ(p.preempted, std::vector<RequestId>{2});
  ExpectSeqs(p, {Seq(1, 4, 1, true)});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 2}));
}

TEST(Scheduler, AdmissionLeavesTheReserveFreeWhileSomethingRuns) {
  for (int64_t reserve : {0, 1}) {
    BlockPool pool(4);
    Scheduler s({.block_tokens = 2, .max_batch_tokens = 16, .admission_reserve_blocks = reserve},
                &pool, nullptr);
    ASSERT_TRUE(s.Add(1, Toks(3)));
    StepPlan p = s.Schedule();
    ExpectSeqs(p, {Seq(1, 0, 3, true)});  // blocks {0, 1}
    s.Update(p, SampleAll(p));
    ASSERT_TRUE(s.Add(2, Toks(4, 1)));  // needs the two free blocks
    p = s.Schedule();
    if (reserve == 0) {
      ExpectSeqs(p, {Seq(1, 3, 1, true), Seq(2, 0, 4, true)});
      s.Update(p, SampleAll(p));
      p = s.Schedule();  // 1 needs a block for position 4: 2's prefill is thrown away
      EXPECT_EQ(p.preempted, std::vector<RequestId>{2});
    } else {
      ExpectSeqs(p, {Seq(1, 3, 1, true)});  // 2 would leave no block free: it waits
      s.Update(p, SampleAll(p));
      p = s.Schedule();
      ExpectSeqs(p, {Seq(1, 4, 1, true)});
      EXPECT_TRUE(p.preempted.empty());
      EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 2}));
      EXPECT_EQ(s.waiting(), std::deque<RequestId>{2});
    }
  }
}

TEST(Scheduler, AbortsWhatCanNeverFit) {
  BlockPool pool(2);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 16}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(5)));  // 3 blocks > pool
  ASSERT_TRUE(s.Add(2, Toks(2, 1)));
  StepPlan p = s.Schedule();
  EXPECT_EQ(p.aborted, std::vector<RequestId>{1});
  ExpectSeqs(p, {Seq(2, 0, 2, true)});
  EXPECT_EQ(s.Find(1), nullptr);
  s.Update(p, SampleAll(p));
  for (int i = 0; i < 2; ++i) {  // decode to position 3 (block 1)
    p = s.Schedule();
    s.Update(p, SampleAll(p));
  }
  p = s.Schedule();  // position 4 needs a third block, and 2 runs alone
  EXPECT_EQ(p.aborted, std::vector<RequestId>{2});
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(pool.n_free(), 2);
}

TEST(Scheduler, RemoveReleasesBlocksFromAnyState) {
  BlockPool pool(4);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 4, .max_running = 1}, &pool, nullptr);
  ASSERT_TRUE(s.Add(1, Toks(3)));
  ASSERT_TRUE(s.Add(2, Toks(3)));
  EXPECT_FALSE(s.Add(2, Toks(1)));
  EXPECT_FALSE(s.Add(9, {}));
  StepPlan p = s.Schedule();
  s.Update(p, SampleAll(p));
  EXPECT_EQ(pool.n_free(), 2);
  EXPECT_TRUE(s.Remove(2));  // waiting
  EXPECT_TRUE(s.Remove(1));  // running
  EXPECT_FALSE(s.Remove(1));
  EXPECT_EQ(pool.n_free(), 4);
  EXPECT_EQ(s.n_running() + s.n_waiting(), 0);
}

// A prefix cache over exact token prefixes: one reference per cached block, LRU by insertion.
class FakeCache : public KvCacheHooks {
 public:
  FakeCache(BlockPool* pool, int64_t bt) : pool_(pool), bt_(bt) {}
  std::vector<BlockId> MatchPrefix(const Request& r, int64_t max_blocks) override {
    std::vector<BlockId> out;
    for (int64_t b = 0; b < max_blocks; ++b) {
      auto it = index_.find(Key(r, b));
      if (it == index_.end()) break;
      pool_->Ref(it->second);
      out.push_back(it->second);
    }
    return out;
  }
  int64_t Evict(int64_t n) override {
    int64_t freed = 0;
    for (auto it = order_.begin(); it != order_.end() && freed < n;) {
      const BlockId b = index_.at(*it);
      if (pool_->RefCount(b) != 1) {
        ++it;
        continue;
      }
      pool_->Unref(b);
      evicted.push_back(b);
      index_.erase(*it);
      it = order_.erase(it);
      ++freed;
    }
    return freed;
  }
  void OnBlockFilled(const Request& r, int64_t index) override {
    filled.push_back({r.id, index});
    auto key = Key(r, index);
    if (index_.count(key)) return;
    pool_->Ref(r.blocks[index]);
    index_[key] = r.blocks[index];
    order_.push_back(key);
  }
  std::vector<std::pair<RequestId, int64_t>> filled;
  std::vector<BlockId> evicted;

 private:
  std::vector<int32_t> Key(const Request& r, int64_t b) const {
    return {r.tokens.begin(), r.tokens.begin() + (b + 1) * bt_};
  }
  BlockPool* pool_;
  int64_t bt_;
  std::map<std::vector<int32_t>, BlockId> index_;
  std::vector<std::vector<int32_t>> order_;
};

TEST(Scheduler, ReusesCachedPrefixBlocksAndReportsFilledOnes) {
  BlockPool pool(8);
  FakeCache cache(&pool, 4);
  Scheduler s({.block_tokens = 4, .max_batch_tokens = 64}, &pool, &cache);
  ASSERT_TRUE(s.Add(1, Toks(10)));
  StepPlan p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 0, 10, true)});
  s.Update(p, SampleAll(p));
  EXPECT_EQ(cache.filled, (std::vector<std::pair<RequestId, int64_t>>{{1, 0}, {1, 1}}));
  EXPECT_EQ(pool.RefCount(0), 2);
  EXPECT_EQ(pool.RefCount(2), 1);
  // Same first 8 tokens: blocks 0 and 1 are shared, only 8.. is computed.
  auto prompt = Toks(10);
  prompt[9] = 55;
  ASSERT_TRUE(s.Add(2, prompt));
  // Exactly two cached blocks' worth: the last token is still computed (logits needed).
  ASSERT_TRUE(s.Add(3, Toks(8)));
  p = s.Schedule();
  ExpectSeqs(p, {Seq(1, 10, 1, true), Seq(2, 8, 2, true), Seq(3, 4, 4, true)});
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{0, 1, 3}));
  EXPECT_EQ(Blocks(s, 3), (std::vector<BlockId>{0, 4}));
  EXPECT_EQ(s.Find(2)->num_cached_tokens, 8);
  EXPECT_EQ(s.Find(2)->num_cached_tokens_first, 8);
  EXPECT_EQ(s.Find(3)->num_cached_tokens, 4);
  EXPECT_EQ(pool.RefCount(0), 4);
  s.Update(p, SampleAll(p));
  // 3 filled its own block 1 (tokens 0..7, same as 1's block 1, which stays the cached one).
  EXPECT_EQ(cache.filled.back(), (std::pair<RequestId, int64_t>{3, 1}));
  EXPECT_EQ(pool.RefCount(4), 1);
  s.Update({}, {.sampled = {}, .finished = {1, 2, 3}});
  EXPECT_EQ(pool.n_used(), 2);  // the cache's two blocks
  EXPECT_EQ(pool.RefCount(0), 1);
}

TEST(Scheduler, EvictsCachedBlocksBeforePreempting) {
  BlockPool pool(4);
  FakeCache cache(&pool, 2);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 64}, &pool, &cache);
  ASSERT_TRUE(s.Add(1, Toks(5)));
  StepPlan p = s.Schedule();
  s.Update(p, {.sampled = {}, .finished = {1}});  // blocks 0, 1 stay cached
  EXPECT_EQ(pool.n_used(), 2);
  ASSERT_TRUE(s.Add(2, Toks(7, 1)));  // 4 blocks: needs both cached ones back
  p = s.Schedule();
  ExpectSeqs(p, {Seq(2, 0, 7, true)});
  EXPECT_TRUE(p.preempted.empty());
  EXPECT_EQ(cache.evicted, (std::vector<BlockId>{0, 1}));
  EXPECT_EQ(Blocks(s, 2).size(), 4u);
}

TEST(Scheduler, PreemptedSequenceHitsItsOwnCachedBlocksOnReadmission) {
  BlockPool pool(6);
  FakeCache cache(&pool, 2);
  Scheduler s({.block_tokens = 2, .max_batch_tokens = 64}, &pool, &cache);
  ASSERT_TRUE(s.Add(1, Toks(3)));
  ASSERT_TRUE(s.Add(2, Toks(5, 1)));
  StepPlan p = s.Schedule();
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1}));
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{2, 3, 4}));
  s.Update(p, SampleAll(p));  // cached: ids 0 (1's block 0), 2 and 3 (2's blocks 0-1)
  p = s.Schedule();           // positions 3 and 5 fit the blocks they have
  s.Update(p, SampleAll(p));  // cached now also ids 1 and 4: every used block is shared
  p = s.Schedule();
  // 1 takes the last free block (5) for position 4; 2 needs one for position 6, nothing is
  // evictable and 2 is the newest, so 2 is preempted.
  ExpectSeqs(p, {Seq(1, 4, 1, true)});
  EXPECT_EQ(p.preempted, std::vector<RequestId>{2});
  EXPECT_EQ(Blocks(s, 1), (std::vector<BlockId>{0, 1, 5}));
  EXPECT_EQ(pool.RefCount(2), 1);  // only the cache holds 2's blocks now
  s.Update(p, {.sampled = {}, .finished = {1}});
  p = s.Schedule();
  // 2 has 7 tokens; its three cached blocks (tokens 0..5) come back, only token 6 is computed.
  ExpectSeqs(p, {Seq(2, 6, 1, true)});
  EXPECT_EQ(Blocks(s, 2), (std::vector<BlockId>{2, 3, 4, 5}));
  EXPECT_EQ(s.Find(2)->num_cached_tokens, 6);
  EXPECT_EQ(s.Find(2)->num_cached_tokens_first, 0);  // usage reports the first admission
  EXPECT_TRUE(cache.evicted.empty());
}

}  // namespace
}  // namespace cachet::sched
