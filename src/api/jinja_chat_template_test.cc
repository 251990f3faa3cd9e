#include "api/jinja_chat_template.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cachet::api {
namespace {

std::string Llama3Template() {
  std::ifstream f(std::string(CACHET_SOURCE_DIR) +
                  "/../shared/tokenizers/llama3/tokenizer_config.json");
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("chat_template") || !j["chat_template"].is_string())
    return "";
  return j["chat_template"].get<std::string>();
}

TEST(JinjaChatTemplate, RendersLlama3Conversation) {
  const std::string src = Llama3Template();
  if (src.empty()) GTEST_SKIP() << "shared/tokenizers/llama3 not present";
  auto t = MakeJinjaChatTemplate(src, "<|begin_of_text|>", "<|eot_id|>");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "Hi"}};
  auto text = (*t)->Render(msgs, RenderOptions{});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->rfind("<|begin_of_text|>", 0), 0u) << *text;
  EXPECT_NE(text->find("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
            std::string::npos)
      << *text;
  const std::string tail = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  ASSERT_GE(text->size(), tail.size());
  EXPECT_EQ(text->substr(text->size() - tail.size()), tail);
}

TEST(JinjaChatTemplate, PrefixCompletionCutsAfterFinalContent) {
  const std::string src = Llama3Template();
  if (src.empty()) GTEST_SKIP() << "shared/tokenizers/llama3 not present";
  auto t = MakeJinjaChatTemplate(src, "<|begin_of_text|>", "<|eot_id|>");
  ASSERT_TRUE(t.ok());
  std::vector<ChatMessage> msgs = {{"user", "Count"}, {"assistant", "1, 2,"}};
  RenderOptions o;
  o.continue_final_message = true;
  o.add_generation_prompt = false;
  auto text = (*t)->Render(msgs, o);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->substr(text->size() - 5), "1, 2,") << *text;
  EXPECT_EQ(text->find("<|eot_id|>", text->size() - 20), std::string::npos);
  // The template trims content; a trailing space is dropped as transformers does.
  msgs.back().content = "1, 2, ";
  text = (*t)->Render(msgs, o);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->substr(text->size() - 6), "\n1, 2,") << *text;
}

TEST(JinjaChatTemplate, SyntaxErrorIsAnError) {
  EXPECT_FALSE(MakeJinjaChatTemplate("{% if %}", "", "").ok());
}

}  // namespace
}  // namespace cachet::api
