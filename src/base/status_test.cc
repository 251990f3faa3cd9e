#include "base/status.h"

#include <gtest/gtest.h>

namespace cachet {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("v must be positive, got " + std::to_string(v));
  return v;
}

Status UsesMacros(int v, int* out) {
  CACHET_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  *out = x * 2;
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorText) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Corrupt("tensor 'blk.0.attn_q.weight': offset past end of file");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.ToString(), "corrupt data: tensor 'blk.0.attn_q.weight': offset past end of file");
  EXPECT_EQ(s.WithContext("model.gguf").message(),
            "model.gguf: tensor 'blk.0.attn_q.weight': offset past end of file");
}

TEST(StatusTest, ResultAndMacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(UsesMacros(21, &out).ok());
  EXPECT_EQ(out, 42);
  Status s = UsesMacros(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 42);
  Result<int> r = ParsePositive(5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
}

}  // namespace
}  // namespace cachet
