#include "sampling/tool_call_grammar.h"

#include <algorithm>
#include <cstring>

namespace cachet::sampling {

void AppendBytes(std::string_view text, std::vector<int32_t>* units) {
  for (char c : text) units->push_back(static_cast<uint8_t>(c));
}

Result<ToolCallGrammar> MakeToolCallGrammar(std::vector<ToolCallGrammar::Alternative> alts) {
  if (alts.empty()) return InvalidArgument("a forced tool call needs at least one tool");
  for (const auto& a : alts) {
    if (a.head.empty()) return InvalidArgument("tool '" + a.name + "': empty call head");
    for (const auto* units : {&a.head, &a.tail}) {
      for (int32_t u : *units) {
        if (u < 0) return InvalidArgument("tool '" + a.name + "': invalid unit");
      }
    }
    if (a.arguments == nullptr) return InvalidArgument("tool '" + a.name + "': no arguments");
    const auto& first = a.arguments->nodes[a.arguments->root].first;
    if (first.count() != 1 || !first.test('{')) {
      return InvalidArgument("tool '" + a.name + "': the arguments schema must describe an object");
    }
  }
  std::sort(alts.begin(), alts.end(), [](const auto& x, const auto& y) { return x.head < y.head; });
  // Sorted: a head that prefixes any later head prefixes the next one.
  for (size_t i = 0; i + 1 < alts.size(); ++i) {
    const auto& a = alts[i].head;
    const auto& b = alts[i + 1].head;
    if (a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin())) {
      return InvalidArgument("tools '" + alts[i].name + "' and '" + alts[i + 1].name +
                             "' cannot be told apart (same name?)");
    }
  }
  ToolCallGrammar g;
  g.alts = std::move(alts);
  return g;
}

ToolCallMatcher::ToolCallMatcher(const ToolCallGrammar* g)
    : g_(g), hi_(static_cast<int32_t>(g->alts.size())), json_(nullptr) {}

// Candidates [lo_, hi_) share their first pos_ units and are sorted, so those continuing with
// `unit` are contiguous; heads are prefix-free, so a completed head is the only candidate left.
bool ToolCallMatcher::FeedHead(int32_t unit) {
  const auto& alts = g_->alts;
  int32_t lo = lo_;
  while (lo < hi_ && alts[lo].head[pos_] < unit) ++lo;
  int32_t hi = lo;
  while (hi < hi_ && alts[hi].head[pos_] == unit) ++hi;
  if (lo == hi) return false;
  lo_ = lo;
  hi_ = hi;
  ++pos_;
  if (static_cast<size_t>(pos_) == alts[lo_].head.size()) {
    phase_ = Phase::kArgs;
    json_ = JsonMatcher(alts[lo_].arguments.get());
    pos_ = 0;
  }
  return true;
}

bool ToolCallMatcher::Feed(int32_t unit) {
  switch (phase_) {
    case Phase::kHead:
      return FeedHead(unit);
    case Phase::kArgs:
      if (unit >= kTokenUnit || !json_.Feed(static_cast<uint8_t>(unit))) return false;
      if (json_.Done()) {
        phase_ = g_->alts[lo_].tail.empty() ? Phase::kDone : Phase::kTail;
        pos_ = 0;
      }
      return true;
    case Phase::kTail: {
      const auto& tail = g_->alts[lo_].tail;
      if (tail[pos_] != unit) return false;
      if (static_cast<size_t>(++pos_) == tail.size()) phase_ = Phase::kDone;
      return true;
    }
    case Phase::kDone:
      return false;
  }
  return false;
}

bool ToolCallMatcher::FeedBytes(std::string_view bytes) {
  for (char c : bytes) {
    if (!Feed(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

void ToolCallMatcher::ExpectedTokens(std::vector<int32_t>* out) const {
  if (phase_ == Phase::kHead) {
    for (int32_t i = lo_; i < hi_; ++i) {
      int32_t u = g_->alts[i].head[pos_];
      if (u >= kTokenUnit && (out->empty() || out->back() != u - kTokenUnit)) {
        out->push_back(u - kTokenUnit);
      }
    }
  } else if (phase_ == Phase::kTail) {
    int32_t u = g_->alts[lo_].tail[pos_];
    if (u >= kTokenUnit) out->push_back(u - kTokenUnit);
  }
}

ToolCallTokenConstraint::ToolCallTokenConstraint(std::shared_ptr<const ToolCallGrammar> grammar,
                                                 std::shared_ptr<const TokenTrie> trie,
                                                 std::vector<int32_t> eog_ids)
    : grammar_(std::move(grammar)),
      trie_(std::move(trie)),
      eog_ids_(std::move(eog_ids)),
      matcher_(grammar_.get()) {
  for (const auto& a : grammar_->alts) {
    for (const auto* units : {&a.head, &a.tail}) {
      for (int32_t u : *units) {
        if (u >= kTokenUnit) markers_.push_back(u - kTokenUnit);
      }
    }
  }
  std::sort(markers_.begin(), markers_.end());
  markers_.erase(std::unique(markers_.begin(), markers_.end()), markers_.end());
}

bool ToolCallTokenConstraint::IsMarker(int32_t id) const {
  return std::binary_search(markers_.begin(), markers_.end(), id);
}

// As JsonTokenConstraint::Walk: one matcher state per trie depth, a rejected byte drops the
// subtree, and inside an argument string a string-safe subtree is allowed whole.
void ToolCallTokenConstraint::Walk(int32_t node, int depth, std::span<uint8_t> mask, bool* any) {
  const TokenTrie& t = *trie_;
  if (static_cast<size_t>(depth + 1) >= stack_.size()) stack_.resize(depth + 2, matcher_);
  for (int32_t c = t.child_begin_[node]; c < t.child_begin_[node + 1]; ++c) {
    ToolCallMatcher& m = stack_[depth + 1];
    m.CopyFrom(stack_[depth]);
    if (!m.Feed(t.byte_[c])) continue;
    if (t.string_safe_[c] && m.InStringContent()) {
      for (int32_t k = t.run_begin_[c]; k < t.run_end_[c]; ++k) {
        int32_t id = t.order_[k];
        if (static_cast<size_t>(id) < mask.size()) mask[id] = 2;
      }
      *any = true;
      continue;
    }
    for (int32_t k = t.id_begin_[c]; k < t.id_begin_[c + 1]; ++k) {
      int32_t id = t.ids_[k];
      if (static_cast<size_t>(id) < mask.size()) mask[id] = 2;
      *any = true;
    }
    if (!m.Done()) Walk(c, depth + 1, mask, any);
  }
}

bool ToolCallTokenConstraint::Allowed(std::span<uint8_t> mask) {
  size_t n = std::min(mask.size(), static_cast<size_t>(trie_->n_vocab()));
  std::memset(mask.data(), 0, mask.size());  // ids past the vocabulary (padding): never
  std::span<uint8_t> m = mask.first(n);
  bool any = false;
  if (Done()) {
    for (int32_t id : eog_ids_) {
      if (static_cast<size_t>(id) < n) m[id] = 1, any = true;
    }
    return any;
  }
  if (stack_.empty()) stack_.resize(8, matcher_);
  stack_[0].CopyFrom(matcher_);
  Walk(0, 0, m, &any);
  for (size_t i = 0; i < n; ++i) m[i] = m[i] == 2 ? 1 : 0;
  for (int32_t id : markers_) {  // a marker's text never stands in for the marker token
    if (static_cast<size_t>(id) < n) m[id] = 0;
  }
  expected_.clear();
  matcher_.ExpectedTokens(&expected_);
  for (int32_t id : expected_) {
    if (static_cast<size_t>(id) < n) m[id] = 1;
  }
  any = false;
  for (size_t i = 0; i < n && !any; ++i) any = m[i] != 0;
  return any;
}

void ToolCallTokenConstraint::Accept(int32_t id) {
  if (Done()) return;
  if (std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end() || id < 0) {
    finished_ = true;
    return;
  }
  if (IsMarker(id)) {
    expected_.clear();
    matcher_.ExpectedTokens(&expected_);
    if (std::find(expected_.begin(), expected_.end(), id) == expected_.end() ||
        !matcher_.Feed(kTokenUnit + id)) {
      finished_ = true;
    }
    return;
  }
  if (id >= trie_->n_vocab() || !trie_->usable(id) || !matcher_.FeedBytes(trie_->bytes(id))) {
    finished_ = true;
  }
}

}  // namespace cachet::sampling
