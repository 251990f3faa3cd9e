#include <gtest/gtest.h>

#include "kv/block_pool.h"
#include "kv/kv_storage.h"

namespace cachet::kv {
namespace {

TEST(BlockPool, AllocatesLowestIdsAndRecyclesOnLastUnref) {
  BlockPool pool(3);
  EXPECT_EQ(pool.Allocate(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_EQ(pool.Allocate(), kNoBlock);
  pool.Ref(1);  // shared by a second holder
  EXPECT_EQ(pool.Unref(1), 1);
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_EQ(pool.Unref(1), 0);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.RefCount(1), 1);
  EXPECT_EQ(pool.n_used(), 3);
}

TEST(KvStorage, BlocksAndLayersDoNotOverlap) {
  KvGeometry g{.n_layer = 2, .k_bytes = 256, .v_bytes = 128};
  EXPECT_EQ(KvStorage::BlocksForBudget(g, 10 * g.block_bytes() + 5), 10);
  auto s = KvStorage::Create(g, 4);
  ASSERT_TRUE(s.ok());
  KvStorage& st = **s;
  EXPECT_EQ(st.K(1, 0) - st.K(0, 0), g.block_bytes());
  EXPECT_EQ(st.V(0, 0) - st.K(0, 0), 256);
  EXPECT_EQ(st.K(0, 1) - st.V(0, 0), 128);
  // Writing every byte of every block through K/V pointers touches each arena byte once.
  for (int b = 0; b < 4; ++b)
    for (int l = 0; l < 2; ++l) {
      std::fill(st.K(b, l), st.K(b, l) + 256, static_cast<uint8_t>(b * 2 + l));
      std::fill(st.V(b, l), st.V(b, l) + 128, static_cast<uint8_t>(100 + b * 2 + l));
    }
  EXPECT_EQ(st.K(3, 1)[255], 7);
  EXPECT_EQ(st.V(2, 0)[0], 104);
}

TEST(KvStorage, MlaLayoutHasNoV) {
  KvGeometry g{.n_layer = 1, .k_bytes = 64 * 576 * 2, .v_bytes = 0};
  auto s = KvStorage::Create(g, 2);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->V(0, 0), nullptr);
  EXPECT_EQ((*s)->total_bytes(), 2 * 64 * 576 * 2);
  EXPECT_FALSE(KvStorage::Create(KvGeometry{}, 2).ok());
}

}  // namespace
}  // namespace cachet::kv
