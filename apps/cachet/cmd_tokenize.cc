// `cachet tokenize` and `cachet detokenize`: JSON lines on stdin -> JSON lines on stdout.
//
//   cachet tokenize --tokenizer PATH [--add-bos] [--parse-special=false]
//     in:  {"text": "..."} per line      out: {"ids": [...]} per line, same order
//   cachet detokenize --tokenizer PATH
//     in:  {"ids": [...]} per line       out: {"text": "..."} per line
//
// PATH is a tokenizer.json, its directory, or a .gguf file. A bad input line (not JSON, missing
// or mistyped field) stops the command: "cachet <cmd>: line N: <reason>" on stderr, exit code 1;
// the lines before it have already been written. Empty lines are skipped.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "flags.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace cachet::cli {
namespace {

using Json = nlohmann::json;

std::unique_ptr<tok::Tokenizer> OpenTokenizer(const char* cmd, const std::string& path) {
  auto spec = tok::LoadTokenizerSpec(path);
  if (!spec.ok()) {
    std::fprintf(stderr, "cachet %s: %s\n", cmd, spec.status().ToString().c_str());
    return nullptr;
  }
  auto t = tok::Tokenizer::Create(*spec);
  if (!t.ok()) {
    std::fprintf(stderr, "cachet %s: %s\n", cmd, t.status().ToString().c_str());
    return nullptr;
  }
  return std::move(t).value();
}

int LineError(const char* cmd, size_t line_no, const std::string& why) {
  std::fflush(stdout);
  std::fprintf(stderr, "cachet %s: line %zu: %s\n", cmd, line_no, why.c_str());
  return 1;
}

int RunTokenize(int argc, char** argv) {
  std::string path;
  bool add_bos = false, parse_special = true;
  Flags flags("tokenize", "cachet tokenize --tokenizer PATH < {\"text\":...} lines");
  flags.String("tokenizer", &path, "tokenizer.json, its directory, or a .gguf file");
  flags.Bool("add-bos", &add_bos, "prepend the BOS token (when the vocabulary has one)");
  flags.Bool("parse-special", &parse_special,
             "match special tokens written in the text (default true; =false to treat as text)");
  flags.Required("tokenizer");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  auto tok = OpenTokenizer("tokenize", path);
  if (!tok) return 1;
  std::string line;
  for (size_t n = 1; std::getline(std::cin, line); ++n) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) return LineError("tokenize", n, "not valid JSON");
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      return LineError("tokenize", n, "expected an object with a string field \"text\"");
    }
    auto ids = tok->Encode(j["text"].get_ref<const std::string&>(), add_bos, parse_special);
    std::string out = Json{{"ids", ids}}.dump();
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

int RunDetokenize(int argc, char** argv) {
  std::string path;
  Flags flags("detokenize", "cachet detokenize --tokenizer PATH < {\"ids\":[...]} lines");
  flags.String("tokenizer", &path, "tokenizer.json, its directory, or a .gguf file");
  flags.Required("tokenizer");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  auto tok = OpenTokenizer("detokenize", path);
  if (!tok) return 1;
  std::string line;
  for (size_t n = 1; std::getline(std::cin, line); ++n) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) return LineError("detokenize", n, "not valid JSON");
    if (!j.is_object() || !j.contains("ids") || !j["ids"].is_array()) {
      return LineError("detokenize", n, "expected an object with an array field \"ids\"");
    }
    std::vector<int32_t> ids;
    for (const auto& v : j["ids"]) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= tok->n_vocab()) {
        return LineError("detokenize", n, "\"ids\" holds a value that is not a token id");
      }
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    std::string out = Json{{"text", tok->Decode(ids)}}.dump();
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(tokenize, "tokenize", "text JSON lines -> token id JSON lines",
                        RunTokenize);
CACHET_REGISTER_COMMAND(detokenize, "detokenize", "token id JSON lines -> text JSON lines",
                        RunDetokenize);
}  // namespace cachet::cli
