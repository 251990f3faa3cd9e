// Round trip through the project's GGUF writer and reader: a synthetic model written to disk and
// mapped back gives the same logits as the in-memory original, with zero-copy weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "formats/gguf/gguf_writer.h"
#include "model/model.h"
#include "model/sequence_runner.h"
#include "model/synthetic.h"

namespace cachet::model {
namespace {

// Through SequenceRunner: paged models and per-sequence-state ones (deepseek4) alike.
std::vector<float> LastLogits(Model& m, const std::vector<int32_t>& toks) {
  auto seq = SequenceRunner::Create(m);
  EXPECT_TRUE(seq.ok());
  auto r = (*seq)->Feed(toks.data(), static_cast<int64_t>(toks.size()), false, nullptr);
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

// deepseek4 metadata arrays (compress_ratios i32[], swiglu_clamp_* f32[]) and the I32 hash table
// survive the writer and reader: the file gives the in-memory model's logits.
TEST(GgufModelFileTest, DeepSeek4ArraysRoundTrip) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cachet_ds4_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ds4-tiny.gguf").string();
  auto sm = MakeSyntheticModel(*FindPreset("ds4-tiny"), DType::kQ8_0, 4, 0, nullptr);
  ASSERT_TRUE(sm.ok());
  auto copy = *sm;
  gguf::Writer w;
  ASSERT_TRUE(AddSyntheticToGguf(std::move(copy), &w).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto from_file = LoadModelFromPath(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  const ModelFile& f = (*from_file)->file();
  EXPECT_EQ(f.GetIntArray("deepseek4.attention.compress_ratios"),
            (std::vector<int64_t>{0, 4, 128, 4, 0}));
  ASSERT_TRUE(f.GetFloatArray("deepseek4.swiglu_clamp_shexp").has_value());
  EXPECT_EQ(f.GetFloatArray("deepseek4.swiglu_clamp_shexp")->at(2), 1.5);
  auto in_mem = LoadModel(std::shared_ptr<const ModelFile>(InMemoryModelFile(std::move(*sm))));
  ASSERT_TRUE(in_mem.ok());
  std::vector<int32_t> toks(40);
  for (int i = 0; i < 40; ++i) toks[i] = (i * 53 + 7) % 261;
  auto a = LastLogits(**from_file, toks);
  auto b = LastLogits(**in_mem, toks);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  std::filesystem::remove_all(dir);
}

TEST(GgufModelFileTest, MissingFileIsAnError) {
  auto m = LoadModelFromPath("/nonexistent/cachet/model.gguf");
  EXPECT_FALSE(m.ok());
}

}  // namespace
}  // namespace cachet::model
