#include "sampling/token_constraint.h"

#include <algorithm>
#include <cstring>

namespace cachet::sampling {

TokenTrie::TokenTrie(std::vector<std::string> token_bytes, std::span<const int32_t> excluded)
    : bytes_(std::move(token_bytes)) {
  usable_.assign(bytes_.size(), 1);
  for (int32_t id : excluded) {
    if (id >= 0 && id < n_vocab()) usable_[id] = 0;
  }
  std::vector<int32_t> order;
  for (int32_t id = 0; id < n_vocab(); ++id) {
    if (bytes_[id].empty()) usable_[id] = 0;
    if (usable_[id]) order.push_back(id);
  }
  // Sorting the tokens by bytes lets the trie be built level by level: the children of a node
  // are the distinct next bytes of a contiguous run of sorted tokens.
  std::sort(order.begin(), order.end(),
            [&](int32_t x, int32_t y) { return bytes_[x] < bytes_[y]; });
  struct Run {
    int32_t begin, end;  // range of `order` sharing the node's prefix
  };
  // Breadth-first construction: node k covers order[runs[k]], tokens sharing its prefix.
  std::vector<Run> runs;
  std::vector<int32_t> depth_of;
  runs.push_back({0, static_cast<int32_t>(order.size())});
  depth_of.push_back(0);
  byte_.push_back(0);
  for (size_t k = 0; k < runs.size(); ++k) {
    Run r = runs[k];
    size_t d = static_cast<size_t>(depth_of[k]);
    int32_t i = r.begin;
    id_begin_.push_back(static_cast<int32_t>(ids_.size()));
    while (i < r.end && bytes_[order[i]].size() == d) ids_.push_back(order[i++]);
    child_begin_.push_back(static_cast<int32_t>(runs.size()));
    while (i < r.end) {
      uint8_t b = static_cast<uint8_t>(bytes_[order[i]][d]);
      int32_t j = i;
      while (j < r.end && static_cast<uint8_t>(bytes_[order[j]][d]) == b) ++j;
      runs.push_back({i, j});
      depth_of.push_back(static_cast<int32_t>(d + 1));
      byte_.push_back(b);
      i = j;
    }
  }
  id_begin_.push_back(static_cast<int32_t>(ids_.size()));
  child_begin_.push_back(static_cast<int32_t>(runs.size()));
  for (const Run& r : runs) {
    run_begin_.push_back(r.begin);
    run_end_.push_back(r.end);
  }
  order_ = std::move(order);
  ComputeStringSafe(depth_of);
}

void TokenTrie::ComputeStringSafe(const std::vector<int32_t>& depth_of) {
  JsonGrammar g = JsonObjectGrammar();
  g.root = g.string;
  JsonMatcher in_string(&g);
  (void)in_string.Feed('"');
  string_safe_.assign(byte_.size(), 0);
  for (size_t k = 1; k < byte_.size(); ++k) {
    bool safe = true;
    for (int32_t i = run_begin_[k]; safe && i < run_end_[k]; ++i) {
      std::string_view rest = std::string_view(bytes_[order_[i]]).substr(depth_of[k]);
      JsonMatcher m = in_string;
      safe = m.FeedAll(rest) && !m.Done();
    }
    string_safe_[k] = safe;
  }
}

JsonTokenConstraint::JsonTokenConstraint(std::shared_ptr<const JsonGrammar> grammar,
                                         std::shared_ptr<const TokenTrie> trie,
                                         std::vector<int32_t> eog_ids)
    : grammar_(std::move(grammar)),
      trie_(std::move(trie)),
      eog_ids_(std::move(eog_ids)),
      matcher_(grammar_.get()) {}

void JsonTokenConstraint::Walk(int32_t node, int depth, std::span<uint8_t> mask, bool* any) {
  const TokenTrie& t = *trie_;
  if (static_cast<size_t>(depth + 1) >= stack_.size()) stack_.resize(depth + 2, matcher_);
  for (int32_t c = t.child_begin_[node]; c < t.child_begin_[node + 1]; ++c) {
    JsonMatcher& m = stack_[depth + 1];
    m.CopyFrom(stack_[depth]);
    if (!m.Feed(t.byte_[c])) continue;
    if (t.string_safe_[c] && m.InStringContent()) {
      // Every token below c is plain string content: allowed, state unchanged but by bytes.
      for (int32_t k = t.run_begin_[c]; k < t.run_end_[c]; ++k) {
        int32_t id = t.order_[k];
        if (static_cast<size_t>(id) < mask.size()) mask[id] = 2;
      }
      *any = true;
      continue;
    }
    for (int32_t k = t.id_begin_[c]; k < t.id_begin_[c + 1]; ++k) {
      int32_t id = t.ids_[k];
      if (static_cast<size_t>(id) < mask.size()) mask[id] = 2;  // 2: allowed (marked)
      *any = true;
    }
    if (!m.Done()) Walk(c, depth + 1, mask, any);
  }
}

bool JsonTokenConstraint::Allowed(std::span<uint8_t> mask) {
  size_t n = std::min(mask.size(), static_cast<size_t>(trie_->n_vocab()));
  // Ids past the tokenizer's vocabulary (a model's padded rows) have no bytes: never allowed.
  std::memset(mask.data() + n, 0, mask.size() - n);
  std::span<uint8_t> m = mask.first(n);
  if (finished_ || matcher_.Done()) {
    std::memset(m.data(), 0, n);
    bool any = false;
    for (int32_t id : eog_ids_) {
      if (static_cast<size_t>(id) < n) m[id] = 1, any = true;
    }
    return any;
  }
  // Mark allowed entries with 2 in place, then map: 2 -> 1 (allowed), anything else -> 0.
  std::memset(m.data(), 0, n);
  if (stack_.empty()) stack_.resize(8, matcher_);
  stack_[0].CopyFrom(matcher_);
  bool any = false;
  Walk(0, 0, m, &any);
  for (size_t i = 0; i < n; ++i) m[i] = m[i] == 2 ? 1 : 0;
  if (matcher_.CanEnd()) {
    for (int32_t id : eog_ids_) {
      if (static_cast<size_t>(id) < n) m[id] = 1, any = true;
    }
  }
  return any;
}

void JsonTokenConstraint::Accept(int32_t id) {
  if (finished_) return;
  if (std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end() || id < 0 ||
      id >= trie_->n_vocab() || !trie_->usable(id) || !matcher_.FeedAll(trie_->bytes(id))) {
    finished_ = true;
  }
}

}  // namespace cachet::sampling
