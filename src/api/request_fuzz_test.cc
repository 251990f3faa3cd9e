// Replays the fuzz corpus and deterministic mutations of it (byte flips, truncations, splices):
// every input must get a proper reply. The libFuzzer target (api_fuzz) explores further.
#include "api/testing/request_fuzz.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace cachet::api::testing {
namespace {

std::vector<std::string> Corpus() {
  std::vector<std::string> out;
  const auto dir = std::filesystem::path(CACHET_SOURCE_DIR) / "src/api/fuzz_corpus";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

int RunInput(const std::string& s) {
  return FuzzOneRequest(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(RequestFuzz, SeedsAreAccepted) {
  auto corpus = Corpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const std::string& s : corpus) EXPECT_EQ(RunInput(s), 200) << s;
}

TEST(RequestFuzz, MutationsGetProperReplies) {
  auto corpus = Corpus();
  std::mt19937 rng(12345);
  const char* tokens[] = {"null", "[]",          "{}",   "\"\"",     "-1",  "1e999",
                          "true", "\"\\ud800\"", "[[[[", "\"\xff\"", "0.5", "99999999999999999999"};
  int ok = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string s = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && s.size() > 1; ++e) {
      const size_t at = 1 + rng() % (s.size() - 1);
      switch (rng() % 4) {
        case 0:
          s[at] = static_cast<char>(rng());
          break;
        case 1:
          s.resize(at);
          break;
        case 2:
          s.insert(at, tokens[rng() % (sizeof(tokens) / sizeof(tokens[0]))]);
          break;
        default:
          s.erase(at, 1 + rng() % 8);
          break;
      }
    }
    const int status = RunInput(s);
    ok += status == 200;
    ASSERT_TRUE(status == 0 || status == 200 || status == 400 || status == 404)
        << status << " " << s;
  }
  EXPECT_GT(ok, 0);
}

}  // namespace
}  // namespace cachet::api::testing
