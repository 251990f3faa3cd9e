#include "tokenizer/bpe_tokenizer.h"

#include <climits>
#include <cstdint>
#include <functional>
#include <queue>

#include "tokenizer/byte_map.h"
#include "tokenizer/unicode.h"

namespace cachet::tok {

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::Make(const TokenizerSpec& spec) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer(spec));
  CACHET_RETURN_IF_ERROR(t->Build());
  return std::unique_ptr<Tokenizer>(std::move(t));
}

Status BpeTokenizer::Build() {
  CACHET_ASSIGN_OR_RETURN(pre_, PreTokenizerFromGgufName(spec_.pre));
  ignore_merges_ = pre_ == PreTokenizer::kLlama3;
  std::unordered_map<std::string_view, int32_t> ids;
  ids.reserve(spec_.tokens.size());
  for (int32_t id = 0; id < static_cast<int32_t>(spec_.tokens.size()); ++id) {
    ids.emplace(spec_.tokens[id], id);  // first id wins for duplicates
  }
  const auto& bytes = ByteMapUtf8();
  for (int b = 0; b < 256; ++b) {
    auto it = ids.find(bytes[b]);
    byte_id_[b] = it == ids.end() ? -1 : it->second;
  }
  size_t cap = 16;
  while (cap < spec_.merges.size() + spec_.merges.size() / 2) cap <<= 1;  // load <= 2/3
  merge_table_.assign(cap, MergeSlot());
  merge_mask_ = cap - 1;
  for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const std::string& m = spec_.merges[rank];
    size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) {
      return InvalidArgument("merges[" + std::to_string(rank) + "]: no space in '" + m + "'");
    }
    auto l = ids.find(std::string_view(m).substr(0, sp));
    auto r = ids.find(std::string_view(m).substr(sp + 1));
    auto merged = ids.find(std::string(m.substr(0, sp)) + m.substr(sp + 1));
    if (l == ids.end() || r == ids.end() || merged == ids.end()) continue;  // unusable merge
    uint64_t key = (static_cast<uint64_t>(l->second) << 32) | static_cast<uint32_t>(r->second);
    AddMerge(key, Merge{static_cast<int32_t>(rank), merged->second});
  }
  token_bytes_.resize(spec_.tokens.size());
  for (size_t id = 0; id < spec_.tokens.size(); ++id) {
    TokenType type = spec_.token_types[id];
    bool raw = type == TokenType::kControl || type == TokenType::kUserDefined ||
               type == TokenType::kUnknown;
    token_bytes_[id] = raw ? spec_.tokens[id] : UnmapBytes(spec_.tokens[id]);
  }
  return Status::Ok();
}

void BpeTokenizer::EncodeFragment(std::string_view text, bool at_start,
                                  std::vector<int32_t>* out) const {
  std::string normalized;
  if (spec_.nfc && MayNeedNfc(text)) {
    normalized = Nfc(text);
    text = normalized;
  }
  PreTokenizeEach(pre_, text, [this, out](std::string_view w) { EncodeWord(w, out); });
}

void BpeTokenizer::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.size() == 1 && byte_id_[static_cast<unsigned char>(word[0])] >= 0) {
    out->push_back(byte_id_[static_cast<unsigned char>(word[0])]);
    return;
  }
  bool cacheable = word.size() <= kCacheMaxWordBytes;
  size_t hash = 0;
  CacheShard* shard = nullptr;
  if (cacheable) {
    hash = std::hash<std::string_view>()(word);
    shard = &cache_[hash % kCacheShards];
    std::lock_guard<std::mutex> lock(shard->mu);
    if (!shard->slots.empty()) {
      const CacheSlot& slot = shard->slots[(hash / kCacheShards) & (kCacheSlotsPerShard - 1)];
      if (slot.hash == hash && slot.word == word) {
        out->insert(out->end(), slot.ids.begin(), slot.ids.end());
        return;
      }
    }
  }
  size_t before = out->size();
  int32_t whole = -1;
  if (ignore_merges_) {
    thread_local std::string mapped;
    mapped.clear();
    const auto& bytes = ByteMapUtf8();
    for (char c : word) mapped += bytes[static_cast<unsigned char>(c)];
    whole = TokenId(mapped);
  }
  if (whole >= 0) {
    out->push_back(whole);
  } else {
    MergeWord(word, out);
  }
  if (cacheable) {
    std::lock_guard<std::mutex> lock(shard->mu);
    if (shard->slots.empty()) shard->slots.resize(kCacheSlotsPerShard);
    CacheSlot& slot = shard->slots[(hash / kCacheShards) & (kCacheSlotsPerShard - 1)];
    slot.hash = hash;
    slot.word.assign(word);
    slot.ids.assign(out->begin() + before, out->end());
  }
}

namespace {
inline uint64_t MixKey(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}
}  // namespace

void BpeTokenizer::AddMerge(uint64_t key, Merge m) {
  for (uint64_t h = MixKey(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
    MergeSlot& slot = merge_table_[h];
    if (slot.key == key) return;  // the first (lowest-rank) merge of a pair wins
    if (slot.key == ~uint64_t{0}) {
      slot.key = key;
      slot.merge = m;
      return;
    }
  }
}

const BpeTokenizer::Merge* BpeTokenizer::FindMerge(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  uint64_t key = (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
  for (uint64_t h = MixKey(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
    const MergeSlot& slot = merge_table_[h];
    if (slot.key == key) return &slot.merge;
    if (slot.key == ~uint64_t{0}) return nullptr;
  }
}

void BpeTokenizer::MergeWord(std::string_view word, std::vector<int32_t>* out) const {
  thread_local std::vector<int32_t> ids;
  ids.clear();
  for (char c : word) ids.push_back(byte_id_[static_cast<unsigned char>(c)]);
  if (ids.size() <= kSmallWord) {
    MergeSmall(&ids);
  } else {
    MergeLarge(&ids);
  }
  for (int32_t id : ids) {
    if (id >= 0) out->push_back(id);
  }
}

// Short words: the pair ranks sit in an array; each round scans it for the lowest rank (O(n^2)
// compares, n <= kSmallWord) but looks up only the two pairs a merge changes (O(n) lookups).
void BpeTokenizer::MergeSmall(std::vector<int32_t>* ids) const {
  std::vector<int32_t>& v = *ids;
  int32_t rank[kSmallWord], merged[kSmallWord];
  auto look = [&](size_t i) {
    const Merge* m = FindMerge(v[i], v[i + 1]);
    rank[i] = m ? m->rank : INT32_MAX;
    merged[i] = m ? m->id : -1;
  };
  size_t n = v.size();
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < rank[best]) best = i;
    }
    if (rank[best] == INT32_MAX) break;
    v[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      v[i] = v[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    v.resize(n);
    if (best + 1 < n) look(best);
    if (best > 0) look(best - 1);
  }
}

// Long words: rank-ordered BPE over a doubly linked list of symbols with a min-heap of
// candidate pairs, O(n log n). Stale heap entries are skipped on pop.
void BpeTokenizer::MergeLarge(std::vector<int32_t>* ids) const {
  struct Sym {
    int32_t id;
    int32_t prev, next;
  };
  size_t n = ids->size();
  std::vector<Sym> syms(n);
  for (size_t i = 0; i < n; ++i) {
    syms[i] = {(*ids)[i], static_cast<int32_t>(i) - 1,
               i + 1 < n ? static_cast<int32_t>(i) + 1 : -1};
  }
  // 16-byte heap entries: key = rank << 32 | position orders by rank, then leftmost first.
  struct Cand {
    uint64_t key;
    int32_t left_id, right_id;
    bool operator>(const Cand& o) const { return key > o.key; }
  };
  auto candidate = [&](int32_t left, Cand* c) {
    if (left < 0 || syms[left].next < 0) return false;
    int32_t right = syms[left].next;
    const Merge* m = FindMerge(syms[left].id, syms[right].id);
    if (!m) return false;
    *c = {(static_cast<uint64_t>(m->rank) << 32) | static_cast<uint32_t>(left), syms[left].id,
          syms[right].id};
    return true;
  };
  std::vector<Cand> initial;  // heapified in O(n) by the constructor
  initial.reserve(n);
  Cand c;
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(n); ++i) {
    if (candidate(i, &c)) initial.push_back(c);
  }
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap(std::greater<Cand>(),
                                                                        std::move(initial));
  auto consider = [&](int32_t left) {
    if (candidate(left, &c)) heap.push(c);
  };
  while (!heap.empty()) {
    Cand top = heap.top();
    heap.pop();
    int32_t pos = static_cast<int32_t>(top.key & 0xFFFFFFFFu);
    Sym& l = syms[pos];
    if (l.id != top.left_id || l.next < 0 || syms[l.next].id != top.right_id) continue;  // stale
    int32_t r = l.next;
    l.id = FindMerge(top.left_id, top.right_id)->id;
    l.next = syms[r].next;
    if (l.next >= 0) syms[l.next].prev = pos;
    syms[r].id = -2;  // dead
    consider(l.prev);
    consider(pos);
  }
  ids->clear();
  for (int32_t i = n == 0 ? -1 : 0; i >= 0; i = syms[i].next) ids->push_back(syms[i].id);
}

}  // namespace cachet::tok
