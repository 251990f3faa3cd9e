#include "base/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

namespace cachet {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/cachet_env_test_XXXXXX";
  char* d = mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d;
}

TEST(EnvTest, WriteAtomicThenMapAndRead) {
  Env* env = Env::Default();
  std::string dir = TempDir();
  std::string path = JoinPath(dir, "a/b/file.bin");
  ASSERT_TRUE(env->CreateDirs(JoinPath(dir, "a/b")).ok());
  std::string payload(100000, 'x');
  payload[12345] = 'y';
  ASSERT_TRUE(env->WriteFileAtomic(path, payload).ok());
  EXPECT_FALSE(env->FileExists(path + ".tmp"));
  auto mapped = env->MapFile(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  ASSERT_EQ(mapped->size(), payload.size());
  EXPECT_EQ(mapped->data()[12345], 'y');
  auto read = env->ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, payload);
  auto names = env->ListDir(JoinPath(dir, "a/b"));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"file.bin"});
  ASSERT_TRUE(env->RemoveFile(path).ok());
  EXPECT_EQ(env->MapFile(path).status().code(), StatusCode::kNotFound);
}

TEST(EnvTest, JoinPathNormalizesSlashes) {
  EXPECT_EQ(JoinPath("/data/", "/kv/x"), "/data/kv/x");
  EXPECT_EQ(JoinPath("data", "kv"), "data/kv");
  EXPECT_EQ(JoinPath("", "kv"), "kv");
}

}  // namespace
}  // namespace cachet
