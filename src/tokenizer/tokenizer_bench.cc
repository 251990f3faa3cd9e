// tokenizer_bench TOKENIZER_DIR_OR_JSON [INPUT_PREFIX]: single-threaded encode throughput (MB/s) on
// English, Chinese and code-like text built from the shared corpus, and time for adversarial 1 MB
// inputs.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "tokenizer/tokenizer.h"

namespace {

double Seconds(const cachet::tok::Tokenizer& t, const std::string& text, size_t* n_ids) {
  auto t0 = std::chrono::steady_clock::now();
  *n_ids = t.Encode(text, false, false).size();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Repeat(const std::string& s, size_t bytes) {
  std::string out;
  while (out.size() < bytes) out += s;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tokenizer_bench TOKENIZER_DIR_OR_JSON\n");
    return 2;
  }
  auto spec = cachet::tok::LoadTokenizerJson(argv[1]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 1;
  }
  auto tok = cachet::tok::Tokenizer::Create(*spec);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  const auto& t = **tok;
  // Varied paragraphs so the word cache sees a realistic mix rather than one repeated word.
  std::string en, zh;
  for (int i = 0; i < 4000; ++i) {
    en += "Paragraph " + std::to_string(i) + ": The quick brown fox number " +
          std::to_string(i * 7919 % 100003) +
          " jumps over the lazy dog's fence, doesn't it? "
          "Tokenizers split text into words (pre-tokenization) and merge byte pairs.\n";
    zh += "第" + std::to_string(i) +
          "段：自然语言处理是人工智能的一个重要方向，"
          "分词器把文本切分成词元，再进行字节对合并。東京の天気は晴れです。\n";
  }
  // Cache-defeating inputs: random words (almost every word unique), random CJK ideographs.
  uint64_t rng = 88172645463325252ULL;
  auto next = [&rng] {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
  };
  std::string en_rand, zh_rand;
  while (en_rand.size() < (4u << 20)) {
    size_t len = 2 + next() % 9;
    for (size_t k = 0; k < len; ++k) en_rand.push_back(static_cast<char>('a' + next() % 26));
    en_rand += (next() % 10 == 0) ? ".\n" : " ";
  }
  while (zh_rand.size() < (4u << 20)) {
    for (int k = 0; k < 12; ++k) {
      uint32_t cp = 0x4E00 + next() % (0x9FA5 - 0x4E00);
      zh_rand += static_cast<char>(0xE0 | (cp >> 12));
      zh_rand += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      zh_rand += static_cast<char>(0x80 | (cp & 0x3F));
    }
    zh_rand += "\xEF\xBC\x8C";  // full-width comma
  }
  struct Input {
    const char* name;
    std::string text;
  } inputs[] = {{"english", Repeat(en, 8 << 20)},
                {"chinese", Repeat(zh, 8 << 20)},
                {"code-html", Repeat("<div class=\"row\"><span>if (a < b && c<d) { v = f<T>(x); }"
                                     "</span></div>\n",
                                     8 << 20)},
                {"english-rand", en_rand},
                {"chinese-rand", zh_rand},
                {"1MB 'a'", std::string(1 << 20, 'a')},
                {"1MB digits", Repeat("8571940362", 1 << 20)},
                {"1MB spaces", std::string(1 << 20, ' ')},
                {"1MB newlines", std::string(1 << 20, '\n')},
                {"1MB '!'", std::string(1 << 20, '!')}};
  std::string only = argc > 2 ? argv[2] : "";  // optional: run only inputs starting with this
  for (const auto& in : inputs) {
    if (!only.empty() && std::string(in.name).rfind(only, 0) != 0) continue;
    size_t n_ids = 0;
    Seconds(t, in.text.substr(0, 1 << 20), &n_ids);  // warm the word cache
    double s = Seconds(t, in.text, &n_ids);
    std::printf("%-14s %6.2f MB  %8.3f s  %8.1f MB/s  %zu ids\n", in.name, in.text.size() / 1e6, s,
                in.text.size() / 1e6 / s, n_ids);
  }
  return 0;
}
