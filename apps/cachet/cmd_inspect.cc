// `cachet inspect MODEL.gguf`: architecture, hyper-parameters, tensor count by type, parameter
// count, bytes of weights and KV bytes per token. The model is fully loaded (so shape errors are
// reported), but inspecting needs no compute.
// Built only when the model module can run (kernels + GGUF present): see src/model/CMakeLists.txt.
#ifdef CACHET_MODEL_RUNNABLE
#include <cstdio>
#include <map>
#include <string>

#include "command.h"
#include "flags.h"
#include "model/model.h"
#include "model/sequence_state.h"

namespace cachet::cli {
namespace {

void PrintHParams(const model::HParams& hp) {
  std::printf("architecture:   %s\n", hp.arch.c_str());
  std::printf("vocab:          %lld\n", static_cast<long long>(hp.n_vocab));
  std::printf("context:        %lld\n", static_cast<long long>(hp.n_ctx_train));
  std::printf("layers:         %lld\n", static_cast<long long>(hp.n_layer));
  std::printf("hidden:         %lld\n", static_cast<long long>(hp.n_embd));
  std::printf("heads:          %lld (kv %lld, head dim %lld, rope dims %lld)\n",
              static_cast<long long>(hp.n_head), static_cast<long long>(hp.n_head_kv),
              static_cast<long long>(hp.head_dim), static_cast<long long>(hp.n_rot));
  std::printf("ffn:            %lld\n", static_cast<long long>(hp.n_ff));
  std::printf("rms eps:        %g\n", hp.norm_eps);
  std::printf("rope:           base %g, scaling %s, factor %g\n", hp.rope_base,
              model::RopeScalingName(hp.rope_scaling).c_str(), hp.rope_factor);
}

void PrintTensors(const model::ModelFile& f) {
  struct Stat {
    int64_t count = 0, params = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, Stat> by_type;
  Stat total;
  for (const auto& t : f.tensors()) {
    Stat& s = by_type[std::string(DTypeName(t.type))];
    ++s.count;
    s.params += t.n_elements();
    s.bytes += t.nbytes;
    ++total.count;
    total.params += t.n_elements();
    total.bytes += t.nbytes;
  }
  std::printf("tensors:        %lld\n", static_cast<long long>(total.count));
  for (const auto& [name, s] : by_type) {
    std::printf("  %-6s        %lld tensors, %lld params, %llu bytes\n", name.c_str(),
                static_cast<long long>(s.count), static_cast<long long>(s.params),
                static_cast<unsigned long long>(s.bytes));
  }
  std::printf("parameters:     %lld (%.3f B)\n", static_cast<long long>(total.params),
              total.params * 1e-9);
  std::printf("weight bytes:   %llu (%.3f GiB)\n", static_cast<unsigned long long>(total.bytes),
              total.bytes / (1024.0 * 1024 * 1024));
}

int RunInspect(int argc, char** argv) {
  std::string path;
  Flags flags("inspect", "cachet inspect MODEL.gguf");
  flags.String("model", &path, "GGUF model file (or give it as the argument)");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  if (path.empty() && flags.positional().size() == 1) path = flags.positional()[0];
  if (path.empty()) return flags.UsageError("expected one model file");
  auto f = model::OpenGgufModelFile(path);
  if (!f.ok()) {
    std::fprintf(stderr, "cachet inspect: %s\n", f.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<const model::ModelFile> file(std::move(f).value());
  std::printf("file:           %s\n", path.c_str());
  if (auto name = file->GetString("general.name"))
    std::printf("name:           %s\n", name->c_str());
  auto m = model::LoadModel(file);
  if (m.ok()) {
    PrintHParams((*m)->hparams());
    if (file->FindTensor("rope_freqs.weight") != nullptr) {
      std::printf("rope freqs:     rope_freqs.weight (llama3-style per-frequency divisors)\n");
    }
  } else if (auto arch = file->GetString("general.architecture")) {
    std::printf("architecture:   %s\n", arch->c_str());
  }
  PrintTensors(*file);
  if (!m.ok()) {
    std::fprintf(stderr, "cachet inspect: cannot load: %s\n", m.status().ToString().c_str());
    return 1;
  }
  if (auto* sm = dynamic_cast<model::StatefulModel*>(m->get())) {
    // deepseek4: per-sequence compressed cache (docs/models/deepseek.md, "KV bytes per token").
    const model::StateKvCost c = sm->kv_cost();
    std::printf(
        "kv per token:   %.2f bytes amortised (compressed entries) + %lld bytes per "
        "sequence (window, compressor state)\n",
        c.bytes_per_token, static_cast<long long>(c.fixed_bytes));
    const model::KvLayout kv = (*m)->kv_layout();
    std::printf("kv pool:        %lld bytes per token in 64-token blocks (%s; entries only)\n",
                static_cast<long long>(kv.bytes_per_token()),
                std::string(DTypeName(kv.type)).c_str());
    return 0;
  }
  const model::KvLayout kv = (*m)->kv_layout();
  std::printf("kv per token:   %lld bytes (%s, %lld layers x %lld bytes)\n",
              static_cast<long long>(kv.bytes_per_token()), std::string(DTypeName(kv.type)).c_str(),
              static_cast<long long>(kv.n_layer),
              static_cast<long long>(kv.bytes_per_token_layer()));
  return 0;
}

}  // namespace
CACHET_REGISTER_COMMAND(inspect, "inspect", "show a model's architecture, sizes and tensors",
                        RunInspect);
}  // namespace cachet::cli
#endif  // CACHET_MODEL_RUNNABLE
