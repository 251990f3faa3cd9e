// `cachet run --model FILE --prompt TEXT [...]`: generates text, streamed to stdout as it is
// decoded (StreamDecoder keeps multi-byte characters whole); prefill and decode speed go to
// stderr. Stops at an end-of-generation token or after --max-tokens.
// Built only when the model module can run (kernels + GGUF present): see src/model/CMakeLists.txt.
#ifdef CACHET_MODEL_RUNNABLE
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/env.h"
#include "command.h"
#include "flags.h"
#include "formats/gguf/gguf_reader.h"
#include "model/model.h"
#include "model/sequence_runner.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace cachet::cli {
namespace {

struct RunOptions {
  std::string model, prompt;
  int64_t max_tokens = 128, top_k = 0, seed = 0, threads = 0;
  double temperature = 0.8, top_p = 1.0, min_p = 0.0, repeat_penalty = 1.0;
};

int Fail(const Status& s) {
  std::fprintf(stderr, "cachet run: %s\n", s.ToString().c_str());
  return 1;
}

// tokenizer.* metadata -> TokenizerSpec through the reader-independent vocab.h mapping.
Result<tok::TokenizerSpec> SpecFromGguf(const gguf::File& f) {
  tok::TokenizerMetadata meta;
  for (const gguf::Value& v : f.values()) {
    if (v.key().rfind("tokenizer.", 0) != 0) continue;
    using VT = gguf::ValueType;
    if (v.type() == VT::kString) {
      CACHET_ASSIGN_OR_RETURN(std::string_view sv, v.AsString());
      meta[v.key()] = std::string(sv);
    } else if (v.type() == VT::kBool) {
      CACHET_ASSIGN_OR_RETURN(bool b, v.AsBool());
      meta[v.key()] = b;
    } else if (!v.is_array() && v.type() != VT::kF32 && v.type() != VT::kF64) {
      CACHET_ASSIGN_OR_RETURN(uint64_t u, v.AsU64());
      if (u > UINT32_MAX) return Corrupt("key " + v.key() + " out of range");
      meta[v.key()] = static_cast<uint32_t>(u);
    } else if (v.is_array() && v.ArrayType() == VT::kString) {
      CACHET_ASSIGN_OR_RETURN(auto views, v.ArrayStrings());
      meta[v.key()] = std::vector<std::string>(views.begin(), views.end());
    } else if (v.is_array() && (v.ArrayType() == VT::kF32 || v.ArrayType() == VT::kF64)) {
      CACHET_ASSIGN_OR_RETURN(auto d, v.ArrayF64s());
      meta[v.key()] = std::vector<float>(d.begin(), d.end());
    } else if (v.is_array()) {
      CACHET_ASSIGN_OR_RETURN(auto ints, v.ArrayI64s());
      meta[v.key()] = std::vector<int32_t>(ints.begin(), ints.end());
    }
  }
  return tok::TokenizerSpecFromMetadata(meta);
}

// Prefills the prompt in chunks; returns the logits of its last token.
Result<const float*> Prefill(model::SequenceRunner& seq, const std::vector<int32_t>& ids,
                             ThreadPool* pool) {
  const float* last = nullptr;
  constexpr int64_t kChunk = 512;
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t len = std::min(kChunk, n - start);
    CACHET_ASSIGN_OR_RETURN(last, seq.Feed(ids.data() + start, len, false, pool));
  }
  return last;
}

int Generate(const RunOptions& o, model::Model& m, const tok::Tokenizer& tok) {
  std::vector<int32_t> ids = tok.Encode(o.prompt, tok.add_bos(), /*parse_special=*/true);
  if (ids.empty()) return Fail(InvalidArgument("--prompt encodes to no tokens"));
  const int64_t n_ctx = m.hparams().n_ctx_train;
  const int64_t max_new = std::min<int64_t>(o.max_tokens, n_ctx - static_cast<int64_t>(ids.size()));
  if (max_new < 0) return Fail(InvalidArgument("--prompt is longer than the context"));
  // Paged KV or per-sequence state (deepseek4): model/sequence_runner.h.
  auto seq = model::SequenceRunner::Create(m);
  if (!seq.ok()) return Fail(seq.status());
  ThreadPool pool(o.threads > 0 ? static_cast<int>(o.threads) : ThreadPool::HardwareThreads());
  sampling::SamplingParams sp;
  sp.temperature = static_cast<float>(o.temperature);
  sp.top_k = static_cast<int32_t>(o.top_k);
  sp.top_p = static_cast<float>(o.top_p);
  sp.min_p = static_cast<float>(o.min_p);
  sp.repetition_penalty = static_cast<float>(o.repeat_penalty);
  sp.seed = static_cast<uint64_t>(o.seed);
  sampling::Sampler sampler(sp);
  Env* env = Env::Default();
  const int64_t t0 = env->NowNanos();
  auto logits = Prefill(**seq, ids, &pool);
  if (!logits.ok()) return Fail(logits.status());
  const int64_t t1 = env->NowNanos();
  tok::StreamDecoder dec(tok);
  const int32_t n_vocab = static_cast<int32_t>(m.hparams().n_vocab);
  int64_t generated = 0;
  const float* l = *logits;
  for (int64_t i = 0; i < max_new; ++i) {
    const int32_t next = sampler.Sample(l, n_vocab, ids);
    if (tok.IsEog(next)) break;
    ids.push_back(next);
    ++generated;
    std::string text = dec.Push(next);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    if (i + 1 == max_new) break;
    auto r = (*seq)->Feed(&ids.back(), 1, false, &pool);
    if (!r.ok()) return Fail(r.status());
    l = *r;
  }
  std::string tail = dec.Finish();
  std::fwrite(tail.data(), 1, tail.size(), stdout);
  std::printf("\n");
  const int64_t t2 = env->NowNanos();
  const double pre_s = (t1 - t0) * 1e-9, dec_s = (t2 - t1) * 1e-9;
  const size_t n_prompt = ids.size() - generated;
  std::fprintf(stderr, "prefill: %zu tokens in %.3f s (%.1f tok/s)\n", n_prompt, pre_s,
               n_prompt / std::max(pre_s, 1e-9));
  std::fprintf(stderr, "decode: %lld tokens in %.3f s (%.1f tok/s), %d threads\n",
               static_cast<long long>(generated), dec_s, generated / std::max(dec_s, 1e-9),
               pool.size());
  return 0;
}

int RunRun(int argc, char** argv) {
  RunOptions o;
  Flags flags("run",
              "cachet run --model FILE --prompt TEXT [--max-tokens N] [--temperature T] "
              "[--top-p P] [--top-k K] [--min-p P] [--seed N] [--threads N]");
  flags.String("model", &o.model, "GGUF model file");
  flags.String("prompt", &o.prompt, "prompt text (special tokens are recognized)");
  flags.Int("max-tokens", &o.max_tokens, "maximum tokens to generate (default 128)");
  flags.Double("temperature", &o.temperature, "sampling temperature, 0 = greedy (default 0.8)");
  flags.Double("top-p", &o.top_p, "nucleus sampling mass (default 1 = off)");
  flags.Int("top-k", &o.top_k, "keep the K most likely tokens (default 0 = off)");
  flags.Double("min-p", &o.min_p, "drop tokens below P * max probability (default 0 = off)");
  flags.Double("repeat-penalty", &o.repeat_penalty, "repetition penalty (default 1 = off)");
  flags.Int("seed", &o.seed, "sampling seed (default 0)");
  flags.Int("threads", &o.threads, "threads (default: all available)");
  flags.Required("model");
  flags.Required("prompt");
  if (auto rc = flags.Parse(argc, argv)) return *rc;
  if (o.max_tokens < 0) return flags.UsageError("--max-tokens must be >= 0");
  auto m = model::LoadModelFromPath(o.model);
  if (!m.ok()) return Fail(m.status());
  const gguf::File* gf = (*m)->file().gguf();
  if (gf == nullptr) return Fail(Internal("model file has no GGUF metadata"));
  auto spec = SpecFromGguf(*gf);
  if (!spec.ok()) return Fail(spec.status().WithContext(o.model + ": tokenizer"));
  auto tok = tok::Tokenizer::Create(*spec);
  if (!tok.ok()) return Fail(tok.status());
  if ((*tok)->n_vocab() > (*m)->hparams().n_vocab) {
    return Fail(Corrupt(o.model + ": tokenizer has more tokens than the model's vocabulary"));
  }
  return Generate(o, **m, **tok);
}

}  // namespace
CACHET_REGISTER_COMMAND(run, "run", "generate text from a prompt", RunRun);
}  // namespace cachet::cli
#endif  // CACHET_MODEL_RUNNABLE
