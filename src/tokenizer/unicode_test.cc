#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/byte_map.h"
#include "tokenizer/pretokenizer.h"

namespace cachet::tok {
namespace {

TEST(Unicode, Categories) {
  EXPECT_EQ(CodepointFlags('A') & 31, kCatL);
  EXPECT_EQ(CodepointFlags(0x4E2D) & 31, kCatL);  // 中
  EXPECT_EQ(CodepointFlags('7') & 31, kCatN);
  EXPECT_EQ(CodepointFlags(0x00B2) & 31, kCatN);  // superscript two
  EXPECT_EQ(CodepointFlags('!') & 31, kCatP);
  EXPECT_EQ(CodepointFlags('+') & 31, kCatS);
  EXPECT_EQ(CodepointFlags(0x0301) & 31, kCatM);
  EXPECT_TRUE(CodepointFlags(0x3000) & kCatWs);
  EXPECT_TRUE(CodepointFlags('\n') & kCatWs);
  EXPECT_FALSE(CodepointFlags(0x200B) & kCatWs);  // zero width space is not White_Space
  EXPECT_EQ(CodepointFlags(0x110000), 0);
}

TEST(Unicode, DecodeUtf8RejectsInvalid) {
  uint32_t cp;
  EXPECT_EQ(DecodeUtf8("\xE4\xB8\xAD", 0, &cp), 3);
  EXPECT_EQ(cp, 0x4E2Du);
  EXPECT_EQ(DecodeUtf8("\xE4\xB8", 0, &cp), 1);  // truncated
  EXPECT_EQ(cp, 0xFFFFFFFFu);
  EXPECT_EQ(DecodeUtf8("\xC0\xAF", 0, &cp), 1);  // overlong
  EXPECT_EQ(cp, 0xFFFFFFFFu);
  EXPECT_EQ(DecodeUtf8("\xED\xA0\x80", 0, &cp), 1);  // surrogate
  EXPECT_EQ(cp, 0xFFFFFFFFu);
}

TEST(Unicode, MayNeedNfcSkipsTextAlreadyNormalized) {
  EXPECT_FALSE(MayNeedNfc("ascii only"));
  EXPECT_FALSE(MayNeedNfc("\xE3\x81\xA7\xC3\xA9\xE4\xB8\xAD"));  // で é 中: precomposed
  EXPECT_TRUE(MayNeedNfc("e\xCC\x81"));                          // combining acute
  EXPECT_TRUE(MayNeedNfc("\xE2\x84\xAB"));                       // Angstrom sign
}

TEST(Unicode, Nfc) {
  EXPECT_EQ(Nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(Nfc("e\xCC\x81"), "\xC3\xA9");                     // e + acute -> é
  EXPECT_EQ(Nfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // jamo G + A -> 가
  EXPECT_EQ(Nfc("\xEA\xB0\x80\xE1\x86\xA8"), "\xEA\xB0\x81");  // 가 + jamo final G -> 각
  EXPECT_EQ(Nfc("a\xCC\x82\xCC\xA3"), "\xE1\xBA\xAD");         // a + ^ + dot below -> ậ
  EXPECT_EQ(Nfc("a\xCC\xA3\xCC\x82"), "\xE1\xBA\xAD");
  EXPECT_EQ(Nfc("\xE2\x84\xAB"), "\xC3\x85");         // Angstrom sign -> Å
  EXPECT_EQ(Nfc("\xEF\xA4\x80"), "\xE8\xB1\x88");     // CJK compat F900 -> 8C48
  EXPECT_EQ(Nfc("x\xFFy\xCC\x81"), "x\xFF\xC3\xBD");  // invalid byte kept
}

TEST(ByteMap, Gpt2Mapping) {
  EXPECT_EQ(ByteToCodepoint(' '), 0x120u);
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10Au);
  EXPECT_EQ(ByteToCodepoint('a'), static_cast<uint32_t>('a'));
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143u);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(UnmapBytes(MapBytes(all)), all);
}

std::vector<std::string> Split(PreTokenizer p, std::string_view text) {
  std::vector<std::string_view> w;
  PreTokenize(p, text, &w);
  return std::vector<std::string>(w.begin(), w.end());
}

using V = std::vector<std::string>;

TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "Hello world 12345"),
            (V{"Hello", " world", " ", "123", "45"}));
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "I'M here,ok?!\n\n  x  "),
            (V{"I", "'M", " here", ",ok", "?!\n\n", " ", " x", "  "}));
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "a \t\n b"), (V{"a", " \t\n", " b"}));
}

TEST(PreTokenizer, Qwen2DigitsOneByOne) {
  EXPECT_EQ(Split(PreTokenizer::kQwen2, "x 123"), (V{"x", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, DeepseekV3) {
  EXPECT_EQ(Split(PreTokenizer::kDeepseekV3, "abc 12345 中文テスト ok.Go"),
            (V{"abc", " ", "123", "45", " ", "中文テスト", " ok", ".Go"}));
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "it's 42!  x"), (V{"it", "'s", " 42", "!", " ", " x"}));
}

TEST(PreTokenizer, NamesAndRegexes) {
  EXPECT_FALSE(PreTokenizerFromGgufName("no-such-pre").ok());
  EXPECT_EQ(*PreTokenizerFromGgufName("llama-bpe"), PreTokenizer::kLlama3);
  auto bad = PreTokenizerFromRegexes({"\\w+"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace cachet::tok
