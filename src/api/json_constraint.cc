#include "api/json_constraint.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace cachet::api {
namespace {

class JsonConstraintAdapter : public engine::TokenConstraint {
 public:
  JsonConstraintAdapter(std::shared_ptr<const sampling::JsonGrammar> g,
                        std::shared_ptr<const sampling::TokenTrie> trie, std::vector<int32_t> eog)
      : c_(std::move(g), std::move(trie), std::move(eog)) {}
  bool Allowed(std::span<uint8_t> mask) override { return c_.Allowed(mask); }
  void Accept(int32_t id) override { c_.Accept(id); }
  bool Done() const override { return c_.Done(); }

 private:
  sampling::JsonTokenConstraint c_;
};

}  // namespace

std::shared_ptr<const sampling::TokenTrie> VocabTrie(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer) {
  static std::mutex mu;
  static std::map<const tok::Tokenizer*, std::pair<std::weak_ptr<const tok::Tokenizer>,
                                                   std::shared_ptr<const sampling::TokenTrie>>>
      cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(tokenizer.get());
  if (it != cache.end() && it->second.first.lock() == tokenizer) return it->second.second;
  std::vector<std::string> bytes;
  std::vector<int32_t> excluded;
  const auto& types = tokenizer->spec().token_types;
  for (int32_t id = 0; id < tokenizer->n_vocab(); ++id) {
    bytes.push_back(tokenizer->TokenBytes(id));
    if (id < static_cast<int32_t>(types.size()) && types[id] == tok::TokenType::kControl) {
      excluded.push_back(id);
    }
  }
  auto trie = std::make_shared<const sampling::TokenTrie>(std::move(bytes), excluded);
  cache[tokenizer.get()] = {tokenizer, trie};
  return trie;
}

std::shared_ptr<engine::TokenConstraint> MakeJsonConstraint(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer,
    std::shared_ptr<const sampling::JsonGrammar> grammar) {
  std::vector<int32_t> eog = tokenizer->eog_ids();
  if (eog.empty() && tokenizer->eos_id() >= 0) eog.push_back(tokenizer->eos_id());
  return std::make_shared<JsonConstraintAdapter>(std::move(grammar), VocabTrie(tokenizer),
                                                 std::move(eog));
}

}  // namespace cachet::api
