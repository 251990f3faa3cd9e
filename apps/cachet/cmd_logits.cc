// `cachet logits --model FILE [--top K] [--threads N]`: for each JSON line {"ids":[...]} on stdin,
// runs the prompt from an empty cache and writes {"top":[[id, logit], ...]} for the last
// position: the K highest logits, highest first (ties: lower id first), printed with %.9g so
// values round-trip. A bad line gets {"error":"..."} and the next line is processed.
// This is how numerics are compared against other implementations.
// Built only when the model module can run (kernels + GGUF present): see src/model/CMakeLists.txt.
#ifdef CACHET_MODEL_RUNNABLE
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "flags.h"
#include "model/model.h"
#include "model/sequence_runner.h"

namespace cachet::cli {
namespace {

Result<std::vector<int32_t>> ParseIds(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("line is not a JSON object");
  auto it = j.find("ids");
  if (it == j.end() || !it->is_array() || it->empty()) {
    return InvalidArgument("field ids must be a non-empty array");
  }
  std::vector<int32_t> ids;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return InvalidArgument("field ids must hold integers");
    const int64_t id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX) return InvalidArgument("field ids: id out of range");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::string TopJson(const float* logits, int64_t n_vocab, int64_t k) {
  std::vector<int32_t> idx(n_vocab);
  for (int64_t i = 0; i < n_vocab; ++i) idx[i] = static_cast<int32_t>(i);
  k = std::min(k, n_vocab);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::string out = "{\"top\":[";
  char buf[64];
  for (int64_t i = 0; i < k; ++i) {
    std::snprintf(buf, sizeof(buf), "%s[%d,%.9g]", i ? "," : "", idx[i], logits[idx[i]]);
    out += buf;
  }
  return out + "]}";
}

Result<std::string> RunLine(model::Model& m, const std::string& line, int64_t top,
                            ThreadPool* pool) {
  CACHET_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds(line));
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n > m.hparams().n_ctx_train) return InvalidArgument("field ids: longer than the context");
  // Paged (SequenceKv) or per-sequence state (deepseek4): model/sequence_runner.h.
  CACHET_ASSIGN_OR_RETURN(auto seq, model::SequenceRunner::Create(m));
  const float* last = nullptr;
  constexpr int64_t kChunk = 512;  // bounds activation memory for long prompts
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t len = std::min(kChunk, n - start);
    CACHET_ASSIGN_OR_RETURN(last, seq->Feed(ids.data() + start, len, false, pool));
  }
  return TopJson(last, m.hparams().n_vocab, top);
}

int RunLogits(int argc, char** argv) {
  std::string model_path;
  int64_t top = 20, threads = 0;
  Flags flags("logits", "cachet logits --model FILE [--top K] [--threads N] < lines.jsonl");
  flags.String("model", &model_path, "GGUF model file");
  flags.Int("top", &top, "number of highest logits to print (default 20)");
  flags.Int("threads", &threads, "threads (default: all available)");
  flags.Required("model");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  if (top <= 0) return flags.UsageError("--top must be positive");
  auto m = model::LoadModelFromPath(model_path);
  if (!m.ok()) {
    std::fprintf(stderr, "cachet logits: %s\n", m.status().ToString().c_str());
    return 1;
  }
  ThreadPool pool(threads > 0 ? static_cast<int>(threads) : ThreadPool::HardwareThreads());
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto r = RunLine(**m, line, top, &pool);
    if (r.ok()) {
      std::printf("%s\n", r->c_str());
    } else {
      std::printf("%s\n", nlohmann::json{{"error", r.status().ToString()}}.dump().c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(logits, "logits", "print top logits of the last position per JSON line",
                        RunLogits);
}  // namespace cachet::cli
#endif  // CACHET_MODEL_RUNNABLE
