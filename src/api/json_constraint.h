// Constrained decoding for response_format json_object / json_schema: builds the engine's
// TokenConstraint from a compiled JsonGrammar (sampling/) and the model's vocabulary.
//
// The vocabulary trie (token bytes, control tokens excluded) is built once per tokenizer on
// first use (~70 ms for a 128k vocabulary) and cached; the cache is internally synchronized, so
// MakeJsonConstraint may be called from any HTTP thread. The returned constraint belongs to one
// request and is used by the engine thread only.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "sampling/json_schema.h"
#include "sampling/token_constraint.h"
#include "tokenizer/tokenizer.h"

namespace cachet::api {

// The tokenizer's vocabulary trie (control tokens excluded), built on first use and cached.
std::shared_ptr<const sampling::TokenTrie> VocabTrie(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer);

std::shared_ptr<engine::TokenConstraint> MakeJsonConstraint(
    const std::shared_ptr<const tok::Tokenizer>& tokenizer,
    std::shared_ptr<const sampling::JsonGrammar> grammar);

}  // namespace cachet::api
