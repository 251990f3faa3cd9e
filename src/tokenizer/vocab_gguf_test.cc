// tokenizer.json -> GGUF file (Writer) -> GGUF reader -> spec gives the same ids as the json path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace cachet::tok {
namespace {

std::string SharedDir() {
  if (const char* src = std::getenv("CACHET_SOURCE_DIR")) return std::string(src) + "/../shared";
  return CACHET_TOKENIZER_TEST_SHARED_DIR;
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> Expected(const std::string& name) {
  std::ifstream in(SharedDir() + "/testdata/tokenizer-expected-" + name + ".jsonl");
  std::vector<Case> out;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    out.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int32_t>>()});
  }
  return out;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/cachet_vocab_gguf_" + name + "_" +
         std::to_string(::getpid()) + ".gguf";
}

class GgufCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufCorpus, FileRoundTripGivesReferenceIds) {
  auto json_spec = LoadTokenizerJson(SharedDir() + "/tokenizers/" + GetParam());
  ASSERT_TRUE(json_spec.ok()) << json_spec.status().ToString();
  ASSERT_FALSE(json_spec->chat_template.empty());  // carried from tokenizer_config.json
  gguf::Writer w;
  w.SetString("general.architecture", "llama");
  WriteTokenizerToGguf(*json_spec, &w);
  std::string path = TempPath(GetParam());
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto spec = LoadTokenizerSpec(path);  // dispatches on ".gguf"
  std::remove(path.c_str());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->model, json_spec->model);
  EXPECT_EQ(spec->pre, json_spec->pre);
  EXPECT_EQ(spec->tokens, json_spec->tokens);
  EXPECT_EQ(spec->merges, json_spec->merges);
  EXPECT_EQ(spec->bos_id, json_spec->bos_id);
  EXPECT_EQ(spec->eos_id, json_spec->eos_id);
  EXPECT_EQ(spec->add_bos, json_spec->add_bos);
  EXPECT_EQ(spec->chat_template, json_spec->chat_template);
  auto t = Tokenizer::Create(*spec);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto cases = Expected(GetParam());
  ASSERT_EQ(cases.size(), 160u);
  int failures = 0;
  for (const Case& c : cases) {
    auto ids = (*t)->Encode(c.text, false, true);
    EXPECT_EQ(ids, c.ids) << c.text;
    failures += ids != c.ids;
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, GgufCorpus,
                         ::testing::Values("deepseek-v3", "qwen3", "llama3"));

// The reader accepts the integer widths other converters use (ids as i32/u64, types as u8...).
TEST(VocabGguf, AcceptsOtherIntegerWidths) {
  gguf::Writer w;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", "default");
  w.SetStringArray("tokenizer.ggml.tokens", {"a", "b", "ab", "<eos>"});
  w.SetU8Array("tokenizer.ggml.token_type", {1, 1, 1, 3});
  w.SetStringArray("tokenizer.ggml.merges", {"a b"});
  w.SetI32("tokenizer.ggml.eos_token_id", 3);
  w.SetU64("tokenizer.ggml.bos_token_id", 2);
  w.SetI32("tokenizer.ggml.padding_token_id", -1);  // "none", as some converters write it
  w.SetString("tokenizer.chat_template", "{{ bos_token }}");
  auto bytes = w.WriteToString();
  ASSERT_TRUE(bytes.ok());
  auto f = gguf::File::FromBytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto spec = TokenizerSpecFromGguf(*f);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->eos_id, 3);
  EXPECT_EQ(spec->bos_id, 2);
  EXPECT_EQ(spec->pad_id, -1);
  EXPECT_EQ(spec->token_types[3], TokenType::kControl);
  EXPECT_EQ(spec->chat_template, "{{ bos_token }}");
  auto t = Tokenizer::Create(*spec);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("ab", false, false), std::vector<int32_t>{2});
}

TEST(VocabGguf, ErrorsNameTheKey) {
  {
    gguf::Writer w;
    w.SetString("general.architecture", "llama");
    auto bytes = w.WriteToString();
    auto f = gguf::File::FromBytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    ASSERT_TRUE(f.ok());
    auto spec = TokenizerSpecFromGguf(*f);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(spec.status().message().find("tokenizer.ggml.model"), std::string::npos);
  }
  {
    gguf::Writer w;
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetF32("tokenizer.ggml.tokens", 1.0f);
    auto bytes = w.WriteToString();
    auto f = gguf::File::FromBytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    ASSERT_TRUE(f.ok());
    auto spec = TokenizerSpecFromGguf(*f);
    ASSERT_FALSE(spec.ok());
    EXPECT_NE(spec.status().message().find("tokenizer.ggml.tokens"), std::string::npos);
  }
  auto missing = LoadTokenizerSpec("/nonexistent/model.gguf");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace cachet::tok
