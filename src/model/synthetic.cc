#include "model/synthetic.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "kernels/kernels.h"

namespace cachet::model {
namespace {

constexpr double kPi = 3.14159265358979323846;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1) from a 64-bit counter stream.
struct RowRng {
  uint64_t state;
  float Next() {
    state = Mix(state);
    return static_cast<float>(static_cast<double>(state >> 40) * 0x1.0p-23 - 1.0);
  }
};

enum class Init { kMatrix, kNorm, kBias };

class Builder {
 public:
  Builder(DType type, uint64_t seed, ThreadPool* pool) : type_(type), seed_(seed), pool_(pool) {}

  Status Add(const std::string& name, std::vector<int64_t> ne, Init init) {
    const int64_t k = ne[0];
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    const DType t = init == Init::kMatrix ? FallbackType(type_, k) : DType::kF32;
    const int64_t row_bytes = RowBytes(t, k);
    SyntheticTensor st{name, t, ne, std::vector<uint8_t>(row_bytes * rows)};
    const float scale = init == Init::kMatrix ? std::sqrt(3.0f / static_cast<float>(k)) : 0.1f;
    const float offset = init == Init::kNorm ? 1.0f : 0.0f;
    const uint64_t tensor_seed = Mix(seed_ ^ Mix(std::hash<std::string>{}(name) ^ 0x5eedull));
    std::atomic<bool> failed{false};
    auto work = [&](int64_t begin, int64_t end) {
      std::vector<float> buf(k);
      for (int64_t r = begin; r < end; ++r) {
        RowRng rng{tensor_seed ^ Mix(static_cast<uint64_t>(r))};
        for (int64_t i = 0; i < k; ++i) buf[i] = offset + scale * rng.Next();
        Status s = kernels::QuantizeRow(t, buf.data(), st.data.data() + r * row_bytes, k);
        if (!s.ok()) failed = true;
      }
    };
    if (pool_ != nullptr) {
      pool_->ParallelFor(rows, 16, work);
    } else {
      work(0, rows);
    }
    if (failed)
      return InvalidArgument("cannot write tensor " + name + " as " + std::string(DTypeName(t)));
    model_.tensors.push_back(std::move(st));
    return Status::Ok();
  }

  void AddF32(const std::string& name, std::vector<float> v) {
    SyntheticTensor st{
        name, DType::kF32, {static_cast<int64_t>(v.size())}, std::vector<uint8_t>(v.size() * 4)};
    std::memcpy(st.data.data(), v.data(), v.size() * 4);
    model_.tensors.push_back(std::move(st));
  }

  void Meta(std::string key, MetaValue v) {
    model_.meta.emplace_back(std::move(key), std::move(v));
  }
  SyntheticModel Take() { return std::move(model_); }

 private:
  DType type_;
  uint64_t seed_;
  ThreadPool* pool_;
  SyntheticModel model_;
};

std::vector<float> Llama3RopeFreqs(const Preset& p) {
  const int64_t half = p.head_dim / 2;
  std::vector<float> ff(half);
  const double n0 = static_cast<double>(p.llama3_orig_ctx);
  for (int64_t j = 0; j < half; ++j) {
    const double w = std::pow(static_cast<double>(p.rope_base), -2.0 * j / p.head_dim);
    const double lambda = 2 * kPi / w;
    if (lambda < n0 / p.llama3_high) {
      ff[j] = 1.0f;
    } else if (lambda > n0 / p.llama3_low) {
      ff[j] = p.llama3_factor;
    } else {
      const double s = (n0 / lambda - p.llama3_low) / (p.llama3_high - p.llama3_low);
      ff[j] = static_cast<float>(1.0 / ((1 - s) / p.llama3_factor + s));
    }
  }
  return ff;
}

void AddMeta(const Preset& p, int64_t n_vocab, DType type, Builder* b) {
  const std::string& a = p.arch;
  auto u = [](int64_t v) { return MetaValue(static_cast<uint32_t>(v)); };
  b->Meta("general.architecture", a);
  b->Meta("general.name", "cachet synthetic " + p.name);
  b->Meta("general.file_type", u(static_cast<uint32_t>(type)));
  b->Meta("general.quantization_version", u(2));
  b->Meta(a + ".vocab_size", u(n_vocab));
  b->Meta(a + ".context_length", u(p.n_ctx));
  b->Meta(a + ".embedding_length", u(p.n_embd));
  b->Meta(a + ".block_count", u(p.n_layer));
  b->Meta(a + ".feed_forward_length", u(p.n_ff));
  b->Meta(a + ".attention.head_count", u(p.n_head));
  b->Meta(a + ".attention.head_count_kv", u(p.n_head_kv));
  b->Meta(a + ".attention.key_length", u(p.head_dim));
  b->Meta(a + ".attention.value_length", u(p.head_dim));
  b->Meta(a + ".attention.layer_norm_rms_epsilon", p.norm_eps);
  b->Meta(a + ".rope.freq_base", p.rope_base);
  b->Meta(a + ".rope.dimension_count", u(p.head_dim));
}

Status AddLayer(const Preset& p, int64_t i, Builder* b) {
  const std::string pre = "blk." + std::to_string(i) + ".";
  const int64_t d = p.n_embd, q = p.n_head * p.head_dim, kv = p.n_head_kv * p.head_dim;
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q.weight", {d, q}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k.weight", {d, kv}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_v.weight", {d, kv}, Init::kMatrix));
  if (p.qkv_bias) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q.bias", {q}, Init::kBias));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k.bias", {kv}, Init::kBias));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_v.bias", {kv}, Init::kBias));
  }
  if (p.qk_norm) {
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_q_norm.weight", {p.head_dim}, Init::kNorm));
    CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_k_norm.weight", {p.head_dim}, Init::kNorm));
  }
  CACHET_RETURN_IF_ERROR(b->Add(pre + "attn_output.weight", {q, d}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_norm.weight", {d}, Init::kNorm));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_gate.weight", {d, p.n_ff}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_up.weight", {d, p.n_ff}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b->Add(pre + "ffn_down.weight", {p.n_ff, d}, Init::kMatrix));
  return Status::Ok();
}

Preset Make(std::string name, std::string arch, std::string tok, int64_t d, int64_t l, int64_t h,
            int64_t hkv, int64_t hd, int64_t ff) {
  Preset p;
  p.name = std::move(name);
  p.arch = std::move(arch);
  p.default_tokenizer = std::move(tok);
  p.n_vocab = 261;  // ByteLevelFallbackSpec size
  p.n_ctx = 4096;
  p.n_embd = d;
  p.n_layer = l;
  p.n_head = h;
  p.n_head_kv = hkv;
  p.head_dim = hd;
  p.n_ff = ff;
  return p;
}

}  // namespace

DType FallbackType(DType wanted, int64_t k) {
  if (k % Traits(wanted).block_size == 0) return wanted;
  if (k % kQK8_0 == 0) return DType::kQ8_0;
  return DType::kF16;
}

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = [] {
    std::vector<Preset> v;
    Preset lt = Make("llama-tiny", "llama", "llama3", 256, 4, 8, 4, 32, 768);
    lt.rope_base = 500000.0f;
    v.push_back(lt);
    Preset q2 = Make("qwen2-tiny", "qwen2", "qwen3", 256, 2, 4, 2, 64, 512);
    q2.qkv_bias = true;
    q2.tied = false;
    q2.rope_base = 1000000.0f;
    q2.norm_eps = 1e-6f;
    v.push_back(q2);
    Preset q3 = Make("qwen3-tiny", "qwen3", "qwen3", 256, 2, 8, 2, 64, 512);  // q width 512 != d
    q3.qk_norm = true;
    q3.rope_base = 1000000.0f;
    q3.norm_eps = 1e-6f;
    v.push_back(q3);
    Preset l1 = Make("llama-1b", "llama", "llama3", 2048, 16, 32, 8, 64, 8192);
    l1.n_vocab = 128256;
    l1.n_ctx = 131072;
    l1.rope_base = 500000.0f;
    l1.llama3_factor = 32.0f;
    v.push_back(l1);
    return v;
  }();
  return presets;
}

const Preset* FindPreset(const std::string& name) {
  for (const auto& p : Presets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<SyntheticModel> MakeSyntheticModel(const Preset& p, DType type, uint64_t seed,
                                          int64_t n_vocab, ThreadPool* pool) {
  if (n_vocab <= 0) n_vocab = p.n_vocab;
  Builder b(type, seed, pool);
  AddMeta(p, n_vocab, type, &b);
  CACHET_RETURN_IF_ERROR(b.Add("token_embd.weight", {p.n_embd, n_vocab}, Init::kMatrix));
  CACHET_RETURN_IF_ERROR(b.Add("output_norm.weight", {p.n_embd}, Init::kNorm));
  if (!p.tied) CACHET_RETURN_IF_ERROR(b.Add("output.weight", {p.n_embd, n_vocab}, Init::kMatrix));
  if (p.llama3_factor > 0) b.AddF32("rope_freqs.weight", Llama3RopeFreqs(p));
  for (int64_t i = 0; i < p.n_layer; ++i) CACHET_RETURN_IF_ERROR(AddLayer(p, i, &b));
  return b.Take();
}

}  // namespace cachet::model
