// Forced tool calls (tool_choice required / named): the output is exactly one call of one of the
// offered tools, written in the model family's own tool-call syntax, with arguments that match
// the tool's JSON schema.
//
// A ToolCallGrammar lists one alternative per tool: a literal head (everything before the
// arguments: section markers, the name, glue), the arguments grammar (json_schema.h; its root must
// be an object), and a literal tail (closing markers). Literals are sequences of units: a unit
// 0..255 is one byte, which any tokenization may produce; a unit kTokenUnit + id is the vocabulary
// token `id` itself, for markers a model writes as one special token (DeepSeek's
// <｜tool▁call▁begin｜>, Qwen's <tool_call>). The family-specific heads and tails are built by the
// API layer (api/forced_tool_call.h); nothing here knows a model family.
//
// The output ends with the tail: ToolCallMatcher::Done() turns true there and the engine stops
// (no end-of-turn token is generated).
//
// Thread-safety: a ToolCallGrammar is immutable once made and may be shared; matchers and
// constraints are per request (the engine thread only).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "sampling/json_matcher.h"
#include "sampling/json_schema.h"
#include "sampling/token_constraint.h"

namespace cachet::sampling {

inline constexpr int32_t kTokenUnit = 256;

struct ToolCallGrammar {
  struct Alternative {
    std::string name;                              // the tool (diagnostics and tests)
    std::vector<int32_t> head;                     // units before the arguments
    std::shared_ptr<const JsonGrammar> arguments;  // root accepts objects only
    std::vector<int32_t> tail;                     // units after the arguments
  };
  std::vector<Alternative> alts;  // sorted by head; no head is a prefix of another
};

// Checks and sorts the alternatives. Errors (InvalidArgument): no alternative, an empty head, a
// head that is a prefix of another one (e.g. two tools with the same name), a missing arguments
// grammar or one whose values can start with anything but '{', a unit outside bytes/tokens.
Result<ToolCallGrammar> MakeToolCallGrammar(std::vector<ToolCallGrammar::Alternative> alts);

// Appends `text` as byte units.
void AppendBytes(std::string_view text, std::vector<int32_t>* units);

// Byte/unit-level matcher of a ToolCallGrammar: head (the candidate alternatives narrow as units
// arrive), arguments (a JsonMatcher), tail. A value; the grammar must outlive it.
class ToolCallMatcher {
 public:
  explicit ToolCallMatcher(const ToolCallGrammar* g);
  ToolCallMatcher(const ToolCallMatcher& o) : json_(nullptr) { CopyFrom(o); }
  ToolCallMatcher& operator=(const ToolCallMatcher& o) {
    CopyFrom(o);
    return *this;
  }
  void CopyFrom(const ToolCallMatcher& o) {
    g_ = o.g_;
    phase_ = o.phase_;
    lo_ = o.lo_;
    hi_ = o.hi_;
    pos_ = o.pos_;
    json_.CopyFrom(o.json_);
  }

  // Advances by one unit (a byte 0..255 or kTokenUnit + id). False (state unspecified) when the
  // unit cannot continue any accepted output, or after Done().
  bool Feed(int32_t unit);
  bool FeedBytes(std::string_view bytes);
  // The whole call, tail included, has been matched.
  bool Done() const { return phase_ == Phase::kDone; }
  // In the arguments, inside a JSON string's plain content (see JsonMatcher::InStringContent).
  bool InStringContent() const { return phase_ == Phase::kArgs && json_.InStringContent(); }
  // Token ids the next unit may be (appends to `out`; none while in the arguments).
  void ExpectedTokens(std::vector<int32_t>* out) const;
  // The chosen alternative, once the head is complete; -1 before.
  int32_t chosen() const { return phase_ == Phase::kHead ? -1 : lo_; }

 private:
  enum class Phase : uint8_t { kHead, kArgs, kTail, kDone };
  bool FeedHead(int32_t unit);

  const ToolCallGrammar* g_;
  Phase phase_ = Phase::kHead;
  int32_t lo_ = 0, hi_ = 0;  // head: candidates [lo_, hi_); later lo_ is the chosen one
  int32_t pos_ = 0;          // units matched in the head / tail
  JsonMatcher json_;
};

// The per-request token constraint (engine TokenConstraint contract, see token_constraint.h):
// a token is allowed when its bytes continue the call, or when it is the marker token the
// grammar expects next. Marker tokens are never allowed as plain bytes (not even inside an
// argument string, where their text would end the call early for the output parser).
class ToolCallTokenConstraint {
 public:
  ToolCallTokenConstraint(std::shared_ptr<const ToolCallGrammar> grammar,
                          std::shared_ptr<const TokenTrie> trie, std::vector<int32_t> eog_ids);

  // As JsonTokenConstraint::Allowed: mask.size() is the model's vocabulary size, ids past the
  // tokenizer's are set to 0; after Done() only the end-of-generation ids are allowed.
  bool Allowed(std::span<uint8_t> mask);
  // An id the mask did not allow finishes the constraint (Done() turns true).
  void Accept(int32_t id);
  bool Done() const { return finished_ || matcher_.Done(); }
  const ToolCallMatcher& matcher() const { return matcher_; }

 private:
  void Walk(int32_t node, int depth, std::span<uint8_t> mask, bool* any);
  bool IsMarker(int32_t id) const;

  std::shared_ptr<const ToolCallGrammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> eog_ids_;
  std::vector<int32_t> markers_;  // sorted token ids used as units anywhere in the grammar
  ToolCallMatcher matcher_;
  std::vector<ToolCallMatcher> stack_;
  std::vector<int32_t> expected_;
  bool finished_ = false;
};

}  // namespace cachet::sampling
