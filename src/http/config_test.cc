#include "http/config.h"

#include <gtest/gtest.h>

namespace cachet::http {
namespace {

TEST(TomlSubset, ParsesSectionsAndTypes) {
  auto m = ParseTomlSubset(R"(# cachet.toml
host = "0.0.0.0"   # all interfaces
port = 8_081
no_auth = false
model = ["a.gguf", 'b\c.gguf',]

[server]
threads = 32
name = "caf\u00e9 \"x\""
)");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->at("host").str, "0.0.0.0");
  EXPECT_EQ(m->at("port").i, 8081);
  EXPECT_EQ(m->at("no_auth").kind, ConfigValue::Kind::kBool);
  EXPECT_FALSE(m->at("no_auth").b);
  ASSERT_EQ(m->at("model").arr.size(), 2u);
  EXPECT_EQ(m->at("model").arr[1].str, "b\\c.gguf");
  EXPECT_EQ(m->at("server.threads").i, 32);
  EXPECT_EQ(m->at("server.name").str, "caf\xC3\xA9 \"x\"");
}

TEST(TomlSubset, ErrorsNameTheLine) {
  for (const char* bad : {"x = ", "x = 1.5", "x = bare", "x = \"open", "[sec", "x 1",
                          "x = 1\nx = 2", "x = [1, 2", "x = 1 y",
                          "x = 9999999999999999999", "x = -"}) {
    auto m = ParseTomlSubset(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("config line"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace cachet::http
