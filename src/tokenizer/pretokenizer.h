// Pre-tokenizers: split text into words before BPE. Each is a hand-written scanner equivalent to
// the fixed Split regex(es) of a known tokenizer.json (HF "Isolated" behaviour: matches and the
// gaps between them both become words). No backtracking: linear time in the input.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachet::tok {

enum class PreTokenizer {
  kGpt2,    // GGUF "default"/"gpt2": 's|'t|... | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,  // GGUF "llama-bpe" and its group: digits in groups of 1-3
  kQwen2,   // GGUF "qwen2": as llama3, digits one at a time
  kDeepseekV3,  // GGUF "deepseek-v3": digits 1-3, CJK/kana runs, then the main split
};

// Maps a GGUF tokenizer.ggml.pre name to a scanner. Unsupported for names we do not implement.
Result<PreTokenizer> PreTokenizerFromGgufName(std::string_view name);
// The canonical GGUF name we write for a scanner ("llama-bpe", "qwen2", "deepseek-v3", "default").
const char* PreTokenizerGgufName(PreTokenizer p);
// Identifies the scanner from the Split regex list of a tokenizer.json (in order). Unsupported
// (naming the first regex) when the list is not one we implement.
Result<PreTokenizer> PreTokenizerFromRegexes(const std::vector<std::string>& regexes);

// Appends the words of `text` to *words (views into text, in order, covering it exactly).
void PreTokenize(PreTokenizer p, std::string_view text, std::vector<std::string_view>* words);
// Calls emit(word) for each word of `text`, in order (no intermediate storage).
void PreTokenizeEach(PreTokenizer p, std::string_view text,
                     const std::function<void(std::string_view)>& emit);

}  // namespace cachet::tok
