// Byte-level BPE ("gpt2" model): pre-tokenize, byte-map, merge by rank (gguf.md §5.1).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace cachet::tok {

class BpeTokenizer final : public Tokenizer {
 public:
  // Errors: Unsupported pre-tokenizer name; InvalidArgument for a malformed merge line.
  static Result<std::unique_ptr<Tokenizer>> Make(const TokenizerSpec& spec);

 protected:
  void EncodeFragment(std::string_view text, bool at_start,
                      std::vector<int32_t>* out) const override;

 private:
  explicit BpeTokenizer(const TokenizerSpec& spec) : Tokenizer(spec) {}
  Status Build();
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;
  void MergeWord(std::string_view word, std::vector<int32_t>* out) const;

  struct Merge {
    int32_t rank;
    int32_t id;  // the merged token
  };
  PreTokenizer pre_ = PreTokenizer::kGpt2;
  bool ignore_merges_ = false;          // llama3 group: a word that is a token is emitted as is
  std::array<int32_t, 256> byte_id_{};  // id of each single-byte token (-1: none)
  // Open-addressing hash table (linear probing, power-of-two size) of merges keyed by
  // (left << 32 | right); the hot lookup of the merge loop.
  struct MergeSlot {
    uint64_t key = ~uint64_t{0};  // empty
    Merge merge{};
  };
  std::vector<MergeSlot> merge_table_;
  uint64_t merge_mask_ = 0;
  void AddMerge(uint64_t key, Merge m);
  const Merge* FindMerge(int32_t left, int32_t right) const;
  void MergeSmall(std::vector<int32_t>* ids) const;
  void MergeLarge(std::vector<int32_t>* ids) const;

  // Cache of frequent words: a direct-mapped table (word hash -> slot; a miss overwrites the slot,
  // reusing its buffers, so a cache-hostile input costs no allocation churn). Sharded by hash,
  // each shard under its own mutex.
  static constexpr size_t kSmallWord = 64;  // bytes; longer words use the heap merge
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheSlotsPerShard = 4096;  // power of two
  static constexpr size_t kCacheMaxWordBytes = 128;
  struct CacheSlot {
    size_t hash = 0;
    std::string word;
    std::vector<int32_t> ids;
  };
  struct CacheShard {
    std::mutex mu;
    std::vector<CacheSlot> slots;  // GUARDED_BY(mu); sized on first use
  };
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace cachet::tok
