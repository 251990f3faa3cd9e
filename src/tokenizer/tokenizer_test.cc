#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/byte_map.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace cachet::tok {
namespace {

std::string SharedDir() {
  if (const char* src = std::getenv("CACHET_SOURCE_DIR")) return std::string(src) + "/../shared";
  return CACHET_TOKENIZER_TEST_SHARED_DIR;  // set by CMake; ctest may not pass the environment
}

// One Tokenizer per name, built once for the whole test binary.
const Tokenizer& Get(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t) {
    auto spec = LoadTokenizerJson(SharedDir() + "/tokenizers/" + name);
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    if (!spec.ok()) std::abort();
    auto made = Tokenizer::Create(*spec);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (!made.ok()) std::abort();
    t = std::move(made).value();
  }
  return *t;
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

class Corpus : public ::testing::TestWithParam<std::string> {};

TEST_P(Corpus, EveryLineMatchesReferenceIds) {
  const Tokenizer& t = Get(GetParam());
  auto cases = Expected(GetParam());
  ASSERT_EQ(cases.size(), 160u);
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto ids = t.Encode(cases[i].text, /*add_bos=*/false, /*parse_special=*/true);
    EXPECT_EQ(ids, cases[i].ids) << "line " << i + 1 << ": " << cases[i].text;
    failures += ids != cases[i].ids;
    // Decoding gives the text back, normalized where the tokenizer normalizes (Qwen3: NFC).
    std::string want = t.spec().nfc ? Nfc(cases[i].text) : cases[i].text;
    EXPECT_EQ(t.Decode(ids), want) << "round trip, line " << i + 1;
  }
  EXPECT_EQ(failures, 0);
}

// tokenizer.json -> GGUF tokenizer metadata -> spec gives the same ids on the whole corpus.
TEST_P(Corpus, GgufMetadataRoundTripGivesSameIds) {
  const Tokenizer& t = Get(GetParam());
  TokenizerMetadata meta = TokenizerSpecToMetadata(t.spec());
  ASSERT_TRUE(std::holds_alternative<uint32_t>(meta.at("tokenizer.ggml.eos_token_id")));
  auto spec = TokenizerSpecFromMetadata(meta);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->pre, t.spec().pre);
  EXPECT_EQ(spec->nfc, t.spec().nfc);
  EXPECT_EQ(spec->bos_id, t.spec().bos_id);
  EXPECT_EQ(spec->eos_id, t.spec().eos_id);
  EXPECT_EQ(spec->add_bos, t.spec().add_bos);
  EXPECT_EQ(spec->chat_template, t.spec().chat_template);
  auto a = spec->eog_ids, b = t.spec().eog_ids;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  auto t2 = Tokenizer::Create(*spec);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  for (const auto& c : Expected(GetParam())) {
    EXPECT_EQ((*t2)->Encode(c.text, false, true), c.ids) << c.text;
  }
}

// Encode is const and thread-safe: threads sharing one Tokenizer (and its word cache) all get
// the reference ids.
TEST_P(Corpus, ConcurrentEncodeMatches) {
  const Tokenizer& t = Get(GetParam());
  auto cases = Expected(GetParam());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = k; i < cases.size() * 2; i += 3) {
        const Case& c = cases[i % cases.size()];
        mismatches[k] += t.Encode(c.text, false, true) != c.ids;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Corpus, ::testing::Values("deepseek-v3", "qwen3", "llama3"));

TEST(Tokenizer, SpecialTokensOnlyWhenAsked) {
  const Tokenizer& t = Get("qwen3");
  int32_t im_start = t.TokenId("<|im_start|>");
  ASSERT_EQ(im_start, 151644);
  auto with = t.Encode("<|im_start|>user", false, true);
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with[0], im_start);
  auto without = t.Encode("<|im_start|>user", false, false);
  EXPECT_EQ(std::count(without.begin(), without.end(), im_start), 0);
  // <think> is a non-special added token (USER_DEFINED): always matched.
  auto think = t.Encode("a<think>b", false, false);
  EXPECT_EQ(think.size(), 3u);
  EXPECT_EQ(think[1], t.TokenId("<think>"));
}

TEST(Tokenizer, BosAndEog) {
  const Tokenizer& l = Get("llama3");
  EXPECT_EQ(l.bos_id(), 128000);
  EXPECT_TRUE(l.add_bos());
  EXPECT_EQ(l.Encode("hi", true, false).front(), 128000);
  EXPECT_TRUE(l.IsEog(l.TokenId("<|eot_id|>")));
  EXPECT_FALSE(l.IsEog(l.TokenId("hi")));
  const Tokenizer& q = Get("qwen3");
  EXPECT_TRUE(q.IsEog(151645));  // <|im_end|>
  EXPECT_FALSE(q.add_bos());
  const Tokenizer& d = Get("deepseek-v3");
  EXPECT_EQ(d.bos_id(), 0);
  EXPECT_TRUE(d.IsEog(1));
  EXPECT_FALSE(d.spec().chat_template.empty());
}

std::vector<int32_t> ByteIds(const Tokenizer& t, std::string_view bytes) {
  std::vector<int32_t> ids;
  for (char c : bytes) ids.push_back(t.TokenId(MapBytes(std::string_view(&c, 1))));
  return ids;
}

TEST(StreamDecoder, HoldsIncompleteUtf8) {
  const Tokenizer& t = Get("llama3");
  StreamDecoder dec(t);
  auto ids = ByteIds(t, "\xF0\x9F\x98\x80");  // 😀 as four byte tokens
  EXPECT_EQ(dec.Push(ids[0]), "");
  EXPECT_EQ(dec.Push(ids[1]), "");
  EXPECT_EQ(dec.Push(ids[2]), "");
  EXPECT_EQ(dec.Push(ids[3]), "\xF0\x9F\x98\x80");
  EXPECT_EQ(dec.Finish(), "");
}

TEST(StreamDecoder, StreamsCorpusTextExactly) {
  const Tokenizer& t = Get("deepseek-v3");
  std::string text = "中文テスト 😀👍🏽 é done";
  StreamDecoder dec(t);
  std::string out;
  for (int32_t id : t.Encode(text, false, false)) {
    std::string piece = dec.Push(id);
    EXPECT_EQ(SanitizeUtf8(piece), piece);  // every piece is valid UTF-8 on its own
    out += piece;
  }
  out += dec.Finish();
  EXPECT_EQ(out, text);
}

TEST(StreamDecoder, InvalidBytesBecomeReplacement) {
  const Tokenizer& t = Get("llama3");
  StreamDecoder dec(t);
  auto ids = ByteIds(t,
                     "\xE4\xB8"
                     "a\xE4");
  EXPECT_EQ(dec.Push(ids[0]), "");
  EXPECT_EQ(dec.Push(ids[1]), "");
  EXPECT_EQ(dec.Push(ids[2]),
            "\xEF\xBF\xBD"
            "a");  // E4 B8 cannot finish: one U+FFFD
  EXPECT_EQ(dec.Push(ids[3]), "");
  EXPECT_EQ(dec.Finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xFF\x80ok"), "\xEF\xBF\xBD\xEF\xBF\xBDok");
}

TEST(Tokenizer, ByteLevelFallbackSpec) {
  auto t = Tokenizer::Create(ByteLevelFallbackSpec());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::string text = "h\xC3\xA9<|im_end|>";
  auto ids = (*t)->Encode(text, false, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{(*t)->TokenId("h"), (*t)->TokenId(MapBytes("\xC3")),
                                       (*t)->TokenId(MapBytes("\xA9")), 259}));
  EXPECT_EQ((*t)->Decode(ids), text);
  EXPECT_TRUE((*t)->IsEog(259));
  EXPECT_EQ((*t)->Decode(std::vector<int32_t>{-5, 99999}), "");
}

TEST(Tokenizer, LongestSpecialTokenWinsAmongAllowedOnes) {
  TokenizerSpec s = ByteLevelFallbackSpec();
  s.tokens.push_back("<a>");
  s.token_types.push_back(TokenType::kUserDefined);
  s.tokens.push_back("<a>b>");
  s.token_types.push_back(TokenType::kControl);
  int32_t short_id = static_cast<int32_t>(s.tokens.size()) - 2, long_id = short_id + 1;
  auto t = Tokenizer::Create(s);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Encode("<a>b>", false, true), (std::vector<int32_t>{long_id}));
  EXPECT_EQ((*t)->Encode("<a>b>", false, false),
            (std::vector<int32_t>{short_id, (*t)->TokenId("b"), (*t)->TokenId(">")}));
  EXPECT_EQ((*t)->Encode("<a", false, true),
            (std::vector<int32_t>{(*t)->TokenId("<"), (*t)->TokenId("a")}));
}

TEST(Tokenizer, SentencePieceMergesByScoreWithByteFallback) {
  TokenizerSpec s;
  s.model = "llama";
  s.add_space_prefix = true;
  auto add = [&](std::string text, TokenType type, float score) {
    s.tokens.push_back(std::move(text));
    s.token_types.push_back(type);
    s.scores.push_back(score);
    return static_cast<int32_t>(s.tokens.size() - 1);
  };
  add("<unk>", TokenType::kUnknown, 0);
  s.bos_id = add("<s>", TokenType::kControl, 0);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, TokenType::kByte, 0);
  }
  const std::string sp = "\xE2\x96\x81";
  for (const char* c : {"h", "i", "a"}) add(c, TokenType::kNormal, -10);
  add(sp, TokenType::kNormal, -10);
  int32_t hi = add("hi", TokenType::kNormal, -1);
  int32_t sp_h = add(sp + "h", TokenType::kNormal, -2);  // loses against "hi"
  int32_t sp_hi = add(sp + "hi", TokenType::kNormal, -3);
  auto t = Tokenizer::Create(s);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  // "hi" merges first (higher score), then "▁" + "hi" -> "▁hi"; "é" falls back to two bytes.
  auto ids = (*t)->Encode("hi\xC3\xA9", true, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{s.bos_id, sp_hi, 2 + 0xC3, 2 + 0xA9}));
  EXPECT_EQ((*t)->Decode(ids), "hi\xC3\xA9");
  (void)hi;
  (void)sp_h;
}

TEST(Tokenizer, MetadataErrorsNameTheKey) {
  TokenizerMetadata m;
  auto missing = TokenizerSpecFromMetadata(m);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tokenizer.ggml.model"), std::string::npos);
  m["tokenizer.ggml.model"] = std::string("gpt2");
  m["tokenizer.ggml.tokens"] = std::vector<std::string>{"a", "b"};
  m["tokenizer.ggml.token_type"] = std::vector<int32_t>{1};
  auto short_types = TokenizerSpecFromMetadata(m);
  ASSERT_FALSE(short_types.ok());
  EXPECT_NE(short_types.status().message().find("token_type"), std::string::npos);
  m["tokenizer.ggml.token_type"] = std::vector<int32_t>{1, 9};
  EXPECT_EQ(TokenizerSpecFromMetadata(m).status().code(), StatusCode::kCorrupt);
  m["tokenizer.ggml.token_type"] = std::vector<int32_t>{1, 1};
  m["tokenizer.ggml.bos_token_id"] = std::string("zero");
  EXPECT_EQ(TokenizerSpecFromMetadata(m).status().code(), StatusCode::kCorrupt);
  m["tokenizer.ggml.bos_token_id"] = uint32_t{7};  // >= vocab size: ignored
  auto ok = TokenizerSpecFromMetadata(m);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->bos_id, -1);
  m["tokenizer.ggml.pre"] = std::string("no-such-pre");
  EXPECT_EQ(TokenizerSpecFromMetadata(m).status().code(), StatusCode::kUnsupported);
}

TEST(Tokenizer, LoadErrorsAreStatuses) {
  auto missing = LoadTokenizerJson("/nonexistent/dir");
  EXPECT_FALSE(missing.ok());
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/cachet_tok_bad.json";
  std::ofstream(path) << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
    "decoder": {"type": "ByteLevel"},
    "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"}})";
  auto bad = LoadTokenizerJson(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnsupported);
  std::ofstream(path) << "{not json";
  EXPECT_EQ(LoadTokenizerJson(path).status().code(), StatusCode::kCorrupt);
  std::ofstream(path) << R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []},
    "decoder": {"type": "ByteLevel"}, "pre_tokenizer": null})";
  EXPECT_FALSE(LoadTokenizerJson(path).ok());
}

// Any byte string (invalid UTF-8 included) tokenizes without error and its tokens' bytes give
// back exactly the input (byte-level BPE is lossless when no normalizer applies).
TEST(Tokenizer, ArbitraryBytesRoundTrip) {
  uint64_t rng = 12345;
  auto next = [&rng] {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
  };
  const char* pieces[] = {
      " ",    "\n", "\r\n", "'s", "12345",    "\xE4\xB8\xAD", "\xF0\x9F\x98", "\xFF",
      "\x80", "a",  "Z",    "!",  "\xCC\x81", "<|",           "\xE3\x81\x8B"};
  for (const char* name : {"llama3", "deepseek-v3"}) {
    const Tokenizer& t = Get(name);
    for (int round = 0; round < 200; ++round) {
      std::string text;
      int n = static_cast<int>(next() % 40);
      for (int k = 0; k < n; ++k) {
        if (next() % 3 == 0) {
          text.push_back(static_cast<char>(next() & 0xFF));
        } else {
          text += pieces[next() % (sizeof(pieces) / sizeof(pieces[0]))];
        }
      }
      std::string back;
      for (int32_t id : t.Encode(text, false, false)) {
        ASSERT_GE(id, 0);
        ASSERT_LT(id, t.n_vocab());
        back += t.TokenBytes(id);
      }
      EXPECT_EQ(back, text) << name << " round " << round;
    }
  }
}

double SecondsToEncode(const Tokenizer& t, const std::string& text) {
  auto t0 = std::chrono::steady_clock::now();
  auto ids = t.Encode(text, false, false);
  EXPECT_FALSE(ids.empty());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Linear time on inputs that make backtracking regex engines or naive BPE blow up: 4x the input
// must cost well under 16x the time (quadratic) — a scaling check, not a speed target (those
// live in tokenizer_bench), so it holds under sanitizers and on a loaded machine. Best of 2 runs
// each to damp scheduling noise.
TEST(Tokenizer, AdversarialInputsScaleLinearly) {
  for (const char* name : {"llama3", "deepseek-v3"}) {
    const Tokenizer& t = Get(name);
    for (char c : {'a', '7', ' ', '\n', '!'}) {
      const std::string small(64 << 10, c), large(256 << 10, c);
      const double ts = std::min(SecondsToEncode(t, small), SecondsToEncode(t, small));
      const double tl = std::min(SecondsToEncode(t, large), SecondsToEncode(t, large));
      EXPECT_LT(tl, 10 * ts + 0.05) << name << " char " << int(c) << ": " << ts << " s for 64 KiB, "
                                    << tl << " s for 256 KiB";
    }
  }
}

}  // namespace
}  // namespace cachet::tok
