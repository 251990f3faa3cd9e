// A ModelEntry over FakeEngine and the byte-level test vocabulary (tok::ByteLevelFallbackSpec:
// ids 0..255 are bytes, <|im_start|> 258, <|im_end|> 259 is end-of-generation), with the ChatML
// fallback template. `reply` is encoded with that vocabulary and becomes the engine's script.
#pragma once

#include <memory>
#include <string>

#include "api/model_registry.h"
#include "api/testing/fake_engine.h"

namespace cachet::api::testing {

struct FakeModel {
  std::shared_ptr<FakeEngine> engine;
  ModelEntry entry;
};

// The reply text followed by <|im_end|> (so generation ends with kStop unless cut short).
FakeModel MakeFakeModel(const std::string& name, const std::string& reply,
                        FakeEngineOptions options = {});

// The byte-level test tokenizer (shared, built once).
std::shared_ptr<const tok::Tokenizer> TestTokenizer();

}  // namespace cachet::api::testing
