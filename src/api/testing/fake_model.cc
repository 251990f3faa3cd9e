#include "api/testing/fake_model.h"

#include <cstdlib>

namespace cachet::api::testing {

std::shared_ptr<const tok::Tokenizer> TestTokenizer() {
  static std::shared_ptr<const tok::Tokenizer> t = [] {
    auto r = tok::Tokenizer::Create(tok::ByteLevelFallbackSpec());
    if (!r.ok()) std::abort();  // the built-in spec is valid by construction
    return std::shared_ptr<const tok::Tokenizer>(std::move(*r));
  }();
  return t;
}

FakeModel MakeFakeModel(const std::string& name, const std::string& reply,
                        FakeEngineOptions options) {
  auto tok = TestTokenizer();
  if (options.reply.empty() && !options.script) {
    options.reply = tok->Encode(reply, false, true);
    options.reply.push_back(259);  // <|im_end|>
  }
  options.model_name = name;
  options.n_vocab = tok->n_vocab();
  FakeModel m;
  m.engine = std::make_shared<FakeEngine>(std::move(options));
  m.entry.name = name;
  m.entry.engine = m.engine;
  m.entry.tokenizer = tok;
  m.entry.chat_template = MakeChatMlTemplate();
  m.entry.fim = DetectFimTokens(*tok);
  m.entry.created = 1700000000;
  return m;
}

}  // namespace cachet::api::testing
