// Round trip through the project's GGUF writer and reader: a synthetic model written to disk and
// mapped back gives the same logits as the in-memory original, with zero-copy weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "formats/gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace cachet::model {
namespace {

std::vector<float> LastLogits(Model& m, const std::vector<int32_t>& toks) {
  SequenceKv kv(m.kv_layout());
  EXPECT_TRUE(kv.Reserve(toks.size()).ok());
  SeqBatch b = MakeSeqBatch(kv, toks.data(), toks.size(), 0);
  auto r = m.Forward({&b, 1}, nullptr);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::vector<float>(*r, *r + m.hparams().n_vocab) : std::vector<float>();
}

TEST(GgufModelFileTest, WrittenModelLoadsZeroCopyWithSameLogits) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cachet_model_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "qwen2-tiny.gguf").string();
  auto sm = MakeSyntheticModel(*FindPreset("qwen2-tiny"), DType::kF16, 3, 0, nullptr);
  ASSERT_TRUE(sm.ok());
  auto copy = *sm;
  gguf::Writer w;
  ASSERT_TRUE(AddSyntheticToGguf(std::move(copy), &w).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());

  auto from_file = LoadModelFromPath(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  auto in_mem = LoadModel(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(*sm))));
  ASSERT_TRUE(in_mem.ok());
  std::vector<int32_t> toks = {3, 14, 15, 92, 65, 35};
  auto a = LastLogits(**from_file, toks);
  auto b = LastLogits(**in_mem, toks);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  // Zero-copy: tensor data points inside the mapped file, not into a copy.
  const ModelFile& f = (*from_file)->file();
  const TensorInfo* t = f.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  const TensorInfo* first = &f.tensors().front();
  EXPECT_GT(static_cast<const uint8_t*>(t->data), static_cast<const uint8_t*>(first->data));
  std::filesystem::remove_all(dir);
}

TEST(GgufModelFileTest, MissingFileIsAnError) {
  auto m = LoadModelFromPath("/nonexistent/cachet/model.gguf");
  EXPECT_FALSE(m.ok());
}

}  // namespace
}  // namespace cachet::model
