// `cachet make-model --preset NAME --out FILE.gguf [...]`: writes a synthetic model (seeded
// random weights in the preset's shapes, a real tokenizer with its chat template) with the
// project's own GGUF writer. Matrices the chosen type cannot hold fall back per tensor
// (model/synthetic.h). Quantization runs on a thread pool.
// Built only when the model module can run (kernels + GGUF present): see src/model/CMakeLists.txt.
#ifdef CACHET_MODEL_RUNNABLE
#include <cstdio>
#include <filesystem>
#include <string>
#include <type_traits>
#include <variant>

#include "base/env.h"
#include "command.h"
#include "flags.h"
#include "formats/gguf/gguf_writer.h"
#include "model/model_file.h"
#include "model/synthetic.h"
#include "tokenizer/vocab.h"

namespace cachet::cli {
namespace {

namespace fs = std::filesystem;

// --tokenizer PATH, else shared/tokenizers/<name> next to the current directory or the binary,
// else the built-in byte-level vocabulary (so the tool works anywhere).
Result<tok::TokenizerSpec> ResolveTokenizer(const std::string& flag, const std::string& name) {
  if (!flag.empty()) return tok::LoadTokenizerJson(flag);
  std::vector<fs::path> candidates = {fs::path("../shared/tokenizers") / name};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / "../../shared/tokenizers" / name);
  for (const auto& c : candidates) {
    if (fs::exists(c / "tokenizer.json", ec)) return tok::LoadTokenizerJson(c.string());
  }
  std::fprintf(stderr,
               "cachet make-model: no tokenizer '%s' found; using the byte-level "
               "fallback vocabulary\n",
               name.c_str());
  return tok::ByteLevelFallbackSpec();
}

// tokenizer.ggml.* keys with the types gguf-py writes (vocab.h TokenizerSpecToMetadata).
void WriteTokenizer(const tok::TokenizerSpec& spec, gguf::Writer* w) {
  for (const auto& [key, value] : tok::TokenizerSpecToMetadata(spec)) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>)
            w->SetString(key, v);
          else if constexpr (std::is_same_v<T, uint32_t>)
            w->SetU32(key, v);
          else if constexpr (std::is_same_v<T, bool>)
            w->SetBool(key, v);
          else if constexpr (std::is_same_v<T, std::vector<std::string>>)
            w->SetStringArray(key, v);
          else if constexpr (std::is_same_v<T, std::vector<int32_t>>)
            w->SetI32Array(key, v);
          else
            w->SetF32Array(key, v);
        },
        value);
  }
}

int Fail(const Status& s) {
  std::fprintf(stderr, "cachet make-model: %s\n", s.ToString().c_str());
  return 1;
}

int RunMakeModel(int argc, char** argv) {
  std::string preset_name, out, type_name = "f16", tokenizer;
  int64_t seed = 0, threads = 0;
  Flags flags("make-model",
              "cachet make-model --preset NAME --out FILE.gguf "
              "[--type f32|f16|bf16|q8_0|q4_0|q4_k|q6_k] [--seed N] "
              "[--tokenizer PATH] [--threads N]");
  std::string names;
  for (const auto& p : model::Presets()) names += (names.empty() ? "" : ", ") + p.name;
  flags.String("preset", &preset_name, "one of: " + names);
  flags.String("out", &out, "output GGUF path");
  flags.String("type", &type_name, "weight type of the matrices (default f16)");
  flags.Int("seed", &seed, "random seed (default 0)");
  flags.String("tokenizer", &tokenizer, "tokenizer.json or its directory");
  flags.Int("threads", &threads, "threads for quantization (default: all available)");
  flags.Required("preset");
  flags.Required("out");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  const model::Preset* preset = model::FindPreset(preset_name);
  if (preset == nullptr) return flags.UsageError("unknown --preset '" + preset_name + "'");
  auto type = DTypeFromName(type_name);
  if (!type) return flags.UsageError("unknown --type '" + type_name + "'");

  auto spec = ResolveTokenizer(tokenizer, preset->default_tokenizer);
  if (!spec.ok()) return Fail(spec.status());
  Env* env = Env::Default();
  const int64_t t0 = env->NowNanos();
  ThreadPool pool(threads > 0 ? static_cast<int>(threads) : ThreadPool::HardwareThreads());
  auto sm = model::MakeSyntheticModel(*preset, *type, static_cast<uint64_t>(seed),
                                      static_cast<int64_t>(spec->tokens.size()), &pool);
  if (!sm.ok()) return Fail(sm.status());
  gguf::Writer w;
  WriteTokenizer(*spec, &w);
  if (Status s = model::AddSyntheticToGguf(std::move(sm).value(), &w); !s.ok()) return Fail(s);
  if (Status s = w.WriteFile(out); !s.ok()) return Fail(s);
  const double secs = (env->NowNanos() - t0) * 1e-9;
  std::fprintf(stderr, "wrote %s (preset %s, %s, vocab %zu) in %.2f s\n", out.c_str(),
               preset->name.c_str(), type_name.c_str(), spec->tokens.size(), secs);
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(make_model, "make-model", "write a synthetic model with random weights",
                        RunMakeModel);
}  // namespace cachet::cli
#endif  // CACHET_MODEL_RUNNABLE
