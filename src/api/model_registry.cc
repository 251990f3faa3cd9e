#include "api/model_registry.h"

namespace cachet::api {

FimTokens DetectFimTokens(const tok::Tokenizer& t) {
  static const char* const kFamilies[][3] = {
      {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"},
      {"<\xEF\xBD\x9C"
       "fim\xE2\x96\x81"
       "begin\xEF\xBD\x9C>",
       "<\xEF\xBD\x9C"
       "fim\xE2\x96\x81"
       "hole\xEF\xBD\x9C>",
       "<\xEF\xBD\x9C"
       "fim\xE2\x96\x81"
       "end\xEF\xBD\x9C>"},
      {"<fim_prefix>", "<fim_suffix>", "<fim_middle>"},
      {"<PRE>", "<SUF>", "<MID>"},
  };
  for (const auto& f : kFamilies) {
    FimTokens fim{t.TokenId(f[0]), t.TokenId(f[1]), t.TokenId(f[2])};
    if (fim.ok()) return fim;
  }
  return FimTokens{};
}

Status ModelRegistry::Add(ModelEntry entry) {
  if (entry.name.empty()) return InvalidArgument("model name is empty");
  if (!entry.engine || !entry.tokenizer || !entry.chat_template) {
    return InvalidArgument("model '" + entry.name + "' lacks an engine, tokenizer or template");
  }
  if (Find(entry.name) != nullptr) return AlreadyExists("model '" + entry.name + "' twice");
  models_.push_back(std::make_shared<const ModelEntry>(std::move(entry)));
  return Status::Ok();
}

const ModelEntry* ModelRegistry::Find(const std::string& name) const {
  for (const auto& m : models_) {
    if (m->name == name) return m.get();
  }
  return nullptr;
}

}  // namespace cachet::api
