// `deepseek4`: deepseek.md Part C. See deepseek4.h for the contract.
#include "model/arch/deepseek4.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "kernels/kernels.h"
#include "model/arch/arch.h"
#include "model/ds4_attention.h"
#include "model/ds4_cache.h"
#include "model/ds4_hparams.h"
#include "model/mhc.h"
#include "model/mla_attention.h"
#include "model/moe.h"
#include "model/weights.h"

namespace cachet::model {
namespace {

std::string Blk(int64_t i, const char* name) { return "blk." + std::to_string(i) + "." + name; }

struct MhcWeights {  // C.4: fn [(2+hc)*hc rows of hc*d] (F32), base, scale
  const float* fn = nullptr;
  VecF32 base, scale;
};

struct CompressorWeights {     // C.6
  Weight kv, gate;             // [d, kappa*W]
  const float* ape = nullptr;  // [R rows of kappa*W] (F32)
  VecF32 norm;                 // [W]
};

struct Ds4Layer {
  int64_t ratio = 0;
  VecF32 attn_norm, q_a_norm, kv_norm, ffn_norm, sinks;
  Weight wq_a, wq_b, wkv, wo_a, wo_b;
  MhcWeights hc_attn, hc_ffn;
  CompressorWeights comp, icomp;  // icomp: CSA only
  Weight iq_b, iproj;             // indexer.attn_q_b [r_q, H_I*d_I], indexer.proj [d, H_I]
  MoeWeights moe;
  std::vector<float> inv_freq;  // the layer's RoPE regime (C.5)
};

struct Buffers {
  std::vector<float> x, xn, u, h, qa, q, kv, att, zo, y, post, cmix;
  std::vector<float> ca, cz, qi, wi, ia, iz, logits;
  std::vector<int32_t> tok;
};

class DeepSeek4Model final : public Model, public StatefulModel {
 public:
  DeepSeek4Model(Ds4HParams ds, DeepSeek4Options opt, std::shared_ptr<const ModelFile> file)
      : Model(std::move(file), ds.base),
        ds_(std::move(ds)),
        opt_(opt),
        k_(kernels::Kernels()),
        moe_(MakeRouter(ds_), ds_.base.n_embd, ds_.n_ff_exp) {}

  Status LoadWeights();
  KvLayout kv_layout() const override;
  Result<const float*> Forward(std::span<const SeqBatch> batch, ThreadPool* pool) override;
  Result<std::unique_ptr<SequenceState>> NewState() const override;
  Result<std::unique_ptr<SequenceState>> NewPagedState() const override;
  Result<const float*> ForwardState(std::span<const StateBatch> batch, ThreadPool* pool) override;
  StateKvCost kv_cost() const override;

 private:
  static RouterConfig MakeRouter(const Ds4HParams& ds);
  Ds4CacheDims CacheDims() const;
  MhcDims Mhc() const;
  Result<const float*> F32Matrix(WeightLoader& wl, const std::string& name, int64_t k, int64_t n);
  Status LoadMhc(WeightLoader& wl, int64_t i, const char* which, MhcWeights* w);
  Status LoadCompressor(WeightLoader& wl, int64_t i, const char* prefix, int64_t R, int64_t W,
                        CompressorWeights* c);
  Status LoadAttention(WeightLoader& wl, int64_t i, Ds4Layer* lw);
  Status LoadMoe(WeightLoader& wl, int64_t i, Ds4Layer* lw);
  Status CheckBatch(std::span<const StateBatch> batch, bool paged, int64_t* n_tok,
                    int64_t* n_out) const;
  const float* Run(std::span<const StateBatch> batch, int64_t n_tok, int64_t n_out,
                   ThreadPool* pool);
  void Resize(int64_t n_tok, int64_t n_out);
  void MatMul(const Weight& w, const float* x, int64_t m, float* y, ThreadPool* pool,
              int64_t ldx = 0, int64_t ldy = 0);
  void PreMix(const MhcWeights& w, const VecF32& norm);
  void PostMix();
  void Projections(const Ds4Layer& lw, ThreadPool* pool);
  void Attention(const Ds4Layer& lw, int64_t l, std::span<const StateBatch> batch,
                 ThreadPool* pool);
  void GroupedOutput(const Ds4Layer& lw, ThreadPool* pool);
  void Moe(const Ds4Layer& lw, ThreadPool* pool);
  void Embed(std::span<const StateBatch> batch);
  void Logits(std::span<const StateBatch> batch, int64_t n_out, ThreadPool* pool);

  Ds4HParams ds_;
  DeepSeek4Options opt_;
  const kernels::KernelTable& k_;
  MoeFfn moe_;
  std::vector<Ds4Layer> layers_;
  Weight tok_embd_, output_;
  VecF32 output_norm_;
  MhcWeights out_hc_;
  std::vector<std::vector<float>> owned_;
  std::vector<float> ones_;    // the per-head q RMSNorm has no weight
  int64_t n_tok_ = 0, T_ = 0;  // buffer capacity, tokens of the current step
  std::vector<int32_t> pos_;
  Buffers b_;
};

RouterConfig DeepSeek4Model::MakeRouter(const Ds4HParams& ds) {
  RouterConfig c;
  c.n_expert = ds.n_expert;
  c.n_used = ds.n_expert_used;
  c.gating = ExpertGating::kSqrtSoftplus;
  c.weights_norm = ds.weights_norm;
  c.weights_scale = ds.weights_scale;
  return c;
}

Ds4CacheDims DeepSeek4Model::CacheDims() const {
  Ds4CacheDims d;
  d.ratios.assign(ds_.ratios.begin(), ds_.ratios.begin() + ds_.base.n_layer);
  d.head_dim = ds_.head_dim();
  d.indexer_dim = ds_.indexer_dim;
  d.n_swa = ds_.n_swa;
  d.type = opt_.cache_type;
  return d;
}

MhcDims DeepSeek4Model::Mhc() const {
  MhcDims m;
  m.d = ds_.base.n_embd;
  m.hc = ds_.hc;
  m.n_sinkhorn = static_cast<int>(ds_.n_sinkhorn);
  m.eps_hc = ds_.eps_hc;
  m.norm_eps = ds_.base.norm_eps;
  return m;
}

// The pool geometry of the paged path: one "layer" row per block holding every compressed
// layer's entries (Ds4CacheDims paged layout). Nominal (one D-wide row) when entries do not
// fill blocks evenly; Forward() then refuses.
KvLayout DeepSeek4Model::kv_layout() const {
  const Ds4CacheDims d = CacheDims();
  KvLayout l;
  l.n_layer = 1;
  l.n_kv_heads = 1;
  l.head_dim_k = d.PagedFits() ? d.PagedValuesPerToken() : ds_.head_dim();
  l.head_dim_v = 0;
  l.type = opt_.cache_type;
  return l;
}

StateKvCost DeepSeek4Model::kv_cost() const {
  const Ds4CacheDims d = CacheDims();
  return {d.FixedBytes(), d.BytesPerToken()};
}

Result<std::unique_ptr<SequenceState>> DeepSeek4Model::NewState() const {
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<Ds4Cache> c, Ds4Cache::Create(CacheDims()));
  return std::unique_ptr<SequenceState>(std::move(c));
}

Result<std::unique_ptr<SequenceState>> DeepSeek4Model::NewPagedState() const {
  CACHET_ASSIGN_OR_RETURN(std::unique_ptr<Ds4Cache> c, Ds4Cache::Create(CacheDims(), true));
  return std::unique_ptr<SequenceState>(std::move(c));
}

Result<const float*> DeepSeek4Model::F32Matrix(WeightLoader& wl, const std::string& name, int64_t k,
                                               int64_t n) {
  CACHET_ASSIGN_OR_RETURN(Weight w, wl.Matrix(name, k, n));
  if (w.type != DType::kF32) return Corrupt("tensor " + name + " must be F32");
  return static_cast<const float*>(w.data);
}

Status DeepSeek4Model::LoadMhc(WeightLoader& wl, int64_t i, const char* which, MhcWeights* w) {
  const int64_t hd = ds_.hc * ds_.base.n_embd, n = (2 + ds_.hc) * ds_.hc;
  const std::string pre = Blk(i, which);
  CACHET_ASSIGN_OR_RETURN(w->fn, F32Matrix(wl, pre + "_fn.weight", hd, n));
  CACHET_ASSIGN_OR_RETURN(w->base, wl.Vector(pre + "_base.weight", n));
  CACHET_ASSIGN_OR_RETURN(w->scale, wl.Vector(pre + "_scale.weight", 3));
  return Status::Ok();
}

Status DeepSeek4Model::LoadCompressor(WeightLoader& wl, int64_t i, const char* prefix, int64_t R,
                                      int64_t W, CompressorWeights* c) {
  const int64_t d = ds_.base.n_embd, kw = (R == 4 ? 2 : 1) * W;
  const std::string pre = Blk(i, prefix);
  CACHET_ASSIGN_OR_RETURN(c->kv, wl.Matrix(pre + "kv.weight", d, kw));
  CACHET_ASSIGN_OR_RETURN(c->gate, wl.Matrix(pre + "gate.weight", d, kw));
  CACHET_ASSIGN_OR_RETURN(c->ape, F32Matrix(wl, pre + "ape.weight", kw, R));
  CACHET_ASSIGN_OR_RETURN(c->norm, wl.Vector(pre + "norm.weight", W));
  return Status::Ok();
}

Status DeepSeek4Model::LoadAttention(WeightLoader& wl, int64_t i, Ds4Layer* lw) {
  const int64_t d = ds_.base.n_embd, H = ds_.base.n_head, D = ds_.head_dim();
  const int64_t rq = ds_.q_lora_rank, G = ds_.out_groups, ro = ds_.out_rank;
  lw->ratio = ds_.ratios[i];
  CACHET_ASSIGN_OR_RETURN(lw->attn_norm, wl.Vector(Blk(i, "attn_norm.weight"), d));
  CACHET_ASSIGN_OR_RETURN(lw->sinks, wl.Vector(Blk(i, "attn_sinks.weight"), H));
  CACHET_ASSIGN_OR_RETURN(lw->wq_a, wl.Matrix(Blk(i, "attn_q_a.weight"), d, rq));
  CACHET_ASSIGN_OR_RETURN(lw->q_a_norm, wl.Vector(Blk(i, "attn_q_a_norm.weight"), rq));
  CACHET_ASSIGN_OR_RETURN(lw->wq_b, wl.Matrix(Blk(i, "attn_q_b.weight"), rq, H * D));
  CACHET_ASSIGN_OR_RETURN(lw->wkv, wl.Matrix(Blk(i, "attn_kv.weight"), d, D));
  CACHET_ASSIGN_OR_RETURN(lw->kv_norm, wl.Vector(Blk(i, "attn_kv_a_norm.weight"), D));
  CACHET_ASSIGN_OR_RETURN(lw->wo_a, wl.Matrix(Blk(i, "attn_output_a.weight"), H * D / G, G * ro));
  CACHET_ASSIGN_OR_RETURN(lw->wo_b, wl.Matrix(Blk(i, "attn_output_b.weight"), G * ro, d));
  CACHET_RETURN_IF_ERROR(LoadMhc(wl, i, "hc_attn", &lw->hc_attn));
  CACHET_RETURN_IF_ERROR(LoadMhc(wl, i, "hc_ffn", &lw->hc_ffn));
  lw->inv_freq = Ds4InvFreq(ds_, lw->ratio);
  if (lw->ratio == 0) return Status::Ok();
  CACHET_RETURN_IF_ERROR(LoadCompressor(wl, i, "attn_compressor_", lw->ratio, D, &lw->comp));
  if (lw->ratio != 4) return Status::Ok();
  const int64_t hi = ds_.indexer_heads, di = ds_.indexer_dim;
  CACHET_ASSIGN_OR_RETURN(lw->iq_b, wl.Matrix(Blk(i, "indexer.attn_q_b.weight"), rq, hi * di));
  CACHET_ASSIGN_OR_RETURN(lw->iproj, wl.Matrix(Blk(i, "indexer.proj.weight"), d, hi));
  return LoadCompressor(wl, i, "indexer_compressor_", 4, di, &lw->icomp);
}

Status DeepSeek4Model::LoadMoe(WeightLoader& wl, int64_t i, Ds4Layer* lw) {
  const int64_t d = ds_.base.n_embd, E = ds_.n_expert, f = ds_.n_ff_exp;
  const int64_t fs = f * ds_.n_expert_shared;
  MoeWeights& m = lw->moe;
  CACHET_ASSIGN_OR_RETURN(lw->ffn_norm, wl.Vector(Blk(i, "ffn_norm.weight"), d));
  CACHET_ASSIGN_OR_RETURN(m.router, wl.Matrix(Blk(i, "ffn_gate_inp.weight"), d, E));
  CACHET_ASSIGN_OR_RETURN(m.gate_exps, wl.Matrix3(Blk(i, "ffn_gate_exps.weight"), d, f, E));
  CACHET_ASSIGN_OR_RETURN(m.up_exps, wl.Matrix3(Blk(i, "ffn_up_exps.weight"), d, f, E));
  CACHET_ASSIGN_OR_RETURN(m.down_exps, wl.Matrix3(Blk(i, "ffn_down_exps.weight"), f, d, E));
  if (fs > 0) {
    CACHET_ASSIGN_OR_RETURN(m.gate_shexp, wl.Matrix(Blk(i, "ffn_gate_shexp.weight"), d, fs));
    CACHET_ASSIGN_OR_RETURN(m.up_shexp, wl.Matrix(Blk(i, "ffn_up_shexp.weight"), d, fs));
    CACHET_ASSIGN_OR_RETURN(m.down_shexp, wl.Matrix(Blk(i, "ffn_down_shexp.weight"), fs, d));
  }
  m.clamp_exp = ds_.clamp_exp[i];
  m.clamp_shexp = ds_.clamp_shexp[i];
  if (i >= ds_.n_hash) {
    CACHET_ASSIGN_OR_RETURN(m.bias, wl.Vector(Blk(i, "exp_probs_b.bias"), E));
    return Status::Ok();
  }
  const std::string name = Blk(i, "ffn_gate_tid2eid.weight");
  const TensorInfo* t = file_->FindTensor(name);
  const int64_t k = ds_.n_expert_used, V = hparams_.n_vocab;
  if (t == nullptr) return Corrupt("missing tensor " + name);
  if (t->type != DType::kI32 || t->n_dims != 2 || t->ne[0] != k || t->ne[1] != V) {
    return Corrupt("tensor " + name + " must be I32 [" + std::to_string(k) + ", " +
                   std::to_string(V) + "]");
  }
  m.tid2eid = static_cast<const int32_t*>(t->data);
  m.tid2eid_vocab = V;
  return Status::Ok();
}

Status DeepSeek4Model::LoadWeights() {
  HParams& hp = hparams_;
  const TensorInfo* emb = file_->FindTensor("token_embd.weight");
  if (emb == nullptr) return Corrupt("missing tensor token_embd.weight");
  if (ds_.n_mtp > 0 && file_->FindTensor(Blk(0, "attn_norm.weight")) == nullptr) {
    return Unsupported("deepseek4: MTP-only file (no trunk blocks, deepseek.md C.12)");
  }
  if (hp.n_vocab == 0) hp.n_vocab = emb->ne[1];
  ds_.base.n_vocab = hp.n_vocab;
  WeightLoader wl(*file_);
  const int64_t d = hp.n_embd, hd = ds_.hc * d;
  CACHET_ASSIGN_OR_RETURN(tok_embd_, wl.Matrix("token_embd.weight", d, hp.n_vocab));
  CACHET_ASSIGN_OR_RETURN(output_norm_, wl.Vector("output_norm.weight", d));
  CACHET_ASSIGN_OR_RETURN(output_, wl.Matrix("output.weight", d, hp.n_vocab));
  CACHET_ASSIGN_OR_RETURN(out_hc_.fn, F32Matrix(wl, "output_hc_fn.weight", hd, ds_.hc));
  CACHET_ASSIGN_OR_RETURN(out_hc_.base, wl.Vector("output_hc_base.weight", ds_.hc));
  CACHET_ASSIGN_OR_RETURN(out_hc_.scale, wl.Vector("output_hc_scale.weight", 1));
  layers_.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    CACHET_RETURN_IF_ERROR(LoadAttention(wl, i, &layers_[i]));
    CACHET_RETURN_IF_ERROR(LoadMoe(wl, i, &layers_[i]));
  }
  int64_t n_unused = 0;
  for (const auto& name : wl.Unused()) {
    if (name.find("tid2eid") != std::string::npos) continue;
    if (name.rfind("blk.", 0) == 0 && std::strtoll(name.c_str() + 4, nullptr, 10) >= hp.n_layer) {
      ++n_unused;  // MTP block tensors: not run (deepseek4.h)
      continue;
    }
    LOG_WARN << "unused tensor " << name;
  }
  if (n_unused > 0) {
    LOG_INFO << "deepseek4: " << n_unused << " MTP tensors not used";
  }
  owned_ = wl.TakeOwned();
  ones_.assign(ds_.head_dim(), 1.0f);
  if (opt_.cache_type != DType::kF16 && opt_.cache_type != DType::kF32) {
    return Unsupported("deepseek4: cache type must be f16 or f32");
  }
  return Status::Ok();
}

Status DeepSeek4Model::CheckBatch(std::span<const StateBatch> batch, bool paged, int64_t* n_tok,
                                  int64_t* n_out) const {
  *n_tok = *n_out = 0;
  if (batch.empty()) return InvalidArgument("deepseek4: empty batch");
  std::set<const SequenceState*> seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    const StateBatch& b = batch[i];
    const std::string where = "batch[" + std::to_string(i) + "]: ";
    auto* c = dynamic_cast<Ds4Cache*>(b.state);
    if (c == nullptr) return InvalidArgument(where + "state is not a deepseek4 cache");
    if (c->paged() != paged) {
      return InvalidArgument(where + (paged ? "Forward needs a state from NewPagedState"
                                            : "ForwardState needs a state from NewState"));
    }
    if (c->dims().ratios.size() != static_cast<size_t>(ds_.base.n_layer) ||
        c->dims().type != opt_.cache_type) {
      return InvalidArgument(where + "state was made by another model");
    }
    if (!seen.insert(b.state).second) return InvalidArgument(where + "state appears twice");
    if (b.tokens == nullptr || b.n_tokens <= 0) return InvalidArgument(where + "no tokens");
    if (c->n_tokens() + b.n_tokens > ds_.base.n_ctx_train) {
      return InvalidArgument(where + "positions beyond the context length");
    }
    for (int64_t t = 0; t < b.n_tokens; ++t) {
      if (b.tokens[t] < 0 || b.tokens[t] >= hparams_.n_vocab) {
        return InvalidArgument(where + "token id " + std::to_string(b.tokens[t]) +
                               " out of vocabulary");
      }
    }
    *n_tok += b.n_tokens;
    *n_out += b.all_logits ? b.n_tokens : 1;
  }
  return Status::Ok();
}

void DeepSeek4Model::Resize(int64_t T, int64_t n_out) {
  const int64_t d = ds_.base.n_embd, hc = ds_.hc, HD = ds_.base.n_head * ds_.head_dim();
  const int64_t D = ds_.head_dim(), hi = ds_.indexer_heads * ds_.indexer_dim;
  if (T > n_tok_) {
    n_tok_ = T;
    b_.x.resize(T * hc * d);
    b_.xn.resize(T * hc * d);
    b_.u.resize(T * d);
    b_.h.resize(T * d);
    b_.y.resize(T * d);
    b_.qa.resize(T * ds_.q_lora_rank);
    b_.q.resize(T * HD);
    b_.att.resize(T * HD);
    b_.kv.resize(T * D);
    b_.zo.resize(T * ds_.out_groups * ds_.out_rank);
    b_.post.resize(T * hc);
    b_.cmix.resize(T * hc * hc);
    b_.ca.resize(T * 2 * D);
    b_.cz.resize(T * 2 * D);
    b_.qi.resize(T * hi);
    b_.wi.resize(T * ds_.indexer_heads);
    b_.ia.resize(T * 2 * ds_.indexer_dim);
    b_.iz.resize(T * 2 * ds_.indexer_dim);
    b_.tok.resize(T);
    pos_.resize(T);
  }
  if (static_cast<int64_t>(b_.logits.size()) < n_out * hparams_.n_vocab) {
    b_.logits.resize(n_out * hparams_.n_vocab);
  }
}

void DeepSeek4Model::MatMul(const Weight& w, const float* x, int64_t m, float* y, ThreadPool* pool,
                            int64_t ldx, int64_t ldy) {
  kernels::MatmulParams p;
  p.w_type = w.type;
  p.w = w.data;
  p.x = x;
  p.y = y;
  p.m = m;
  p.n = w.n;
  p.k = w.k;
  p.ldx = ldx > 0 ? ldx : w.k;
  p.ldy = ldy > 0 ? ldy : w.n;
  p.accumulate = false;
  k_.matmul(p, pool);
}

// C.4 pre-mix of every token: b_.u (sub-layer input), b_.post, b_.cmix; then b_.h = RMSNorm(u).
void DeepSeek4Model::PreMix(const MhcWeights& w, const VecF32& norm) {
  const MhcDims m = Mhc();
  const int64_t d = m.d, hc = m.hc;
  for (int64_t t = 0; t < T_; ++t) {
    MhcPre(m, b_.x.data() + t * hc * d, w.fn, w.base.data, w.scale.data, b_.u.data() + t * d,
           b_.post.data() + t * hc, b_.cmix.data() + t * hc * hc);
  }
  k_.rms_norm(b_.u.data(), d, norm.data, b_.h.data(), d, T_, d, ds_.base.norm_eps);
}

// C.4 post-mix with the sub-layer output b_.y: x <- post * y + C^T x.
void DeepSeek4Model::PostMix() {
  const MhcDims m = Mhc();
  const int64_t d = m.d, hc = m.hc;
  for (int64_t t = 0; t < T_; ++t) {
    MhcPost(m, b_.y.data() + t * d, b_.post.data() + t * hc, b_.cmix.data() + t * hc * hc,
            b_.x.data() + t * hc * d, b_.xn.data() + t * hc * d);
  }
  std::swap(b_.x, b_.xn);
}

// C.5: q (latent normed, per-head RMS without weight, roped), kv (normed, roped, rounded to
// the cache type), the compressors' (a, z) and, for CSA layers, the indexer's qI / wI (C.7).
void DeepSeek4Model::Projections(const Ds4Layer& lw, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, D = ds_.head_dim(), r = ds_.rope_dim();
  const int64_t rq = ds_.q_lora_rank;
  const float eps = ds_.base.norm_eps;
  MatMul(lw.wq_a, b_.h.data(), T_, b_.qa.data(), pool);
  k_.rms_norm(b_.qa.data(), rq, lw.q_a_norm.data, b_.qa.data(), rq, T_, rq, eps);
  MatMul(lw.wq_b, b_.qa.data(), T_, b_.q.data(), pool);
  k_.rms_norm(b_.q.data(), D, ones_.data(), b_.q.data(), D, T_ * H, D, eps);  // no weight
  MatMul(lw.wkv, b_.h.data(), T_, b_.kv.data(), pool);
  k_.rms_norm(b_.kv.data(), D, lw.kv_norm.data, b_.kv.data(), D, T_, D, eps);
  const float* inv = lw.inv_freq.data();
  std::vector<uint8_t> tmp(D * 4);
  for (int64_t t = 0; t < T_; ++t) {
    for (int64_t h = 0; h < H; ++h) Ds4RopeLast(b_.q.data() + (t * H + h) * D, D, r, inv, pos_[t]);
    float* kv = b_.kv.data() + t * D;
    Ds4RopeLast(kv, D, r, inv, pos_[t]);
    MlaStoreRow(opt_.cache_type, kv, tmp.data(), D);  // what the raw ring will hold
    MlaLoadRow(opt_.cache_type, tmp.data(), kv, D);
  }
  if (lw.ratio == 0) return;
  MatMul(lw.comp.kv, b_.h.data(), T_, b_.ca.data(), pool);
  MatMul(lw.comp.gate, b_.h.data(), T_, b_.cz.data(), pool);
  if (lw.ratio != 4) return;
  const int64_t hi = ds_.indexer_heads, di = ds_.indexer_dim;
  MatMul(lw.iq_b, b_.qa.data(), T_, b_.qi.data(), pool);
  MatMul(lw.iproj, b_.h.data(), T_, b_.wi.data(), pool);
  MatMul(lw.icomp.kv, b_.h.data(), T_, b_.ia.data(), pool);
  MatMul(lw.icomp.gate, b_.h.data(), T_, b_.iz.data(), pool);
  const float ws = 1.0f / std::sqrt(static_cast<float>(di * hi));
  for (int64_t i = 0; i < T_ * hi; ++i) b_.wi[i] *= ws;
  for (int64_t t = 0; t < T_; ++t) {
    for (int64_t h = 0; h < hi; ++h) {
      Ds4RopeLast(b_.qi.data() + (t * hi + h) * di, di, r, inv, pos_[t]);
    }
  }
}

// C.8: per head o_j, grouped: z_g = A_g [o_{gH/G} .. ] then out = W_ob [z_0 .. z_{G-1}].
void DeepSeek4Model::GroupedOutput(const Ds4Layer& lw, ThreadPool* pool) {
  const int64_t HD = ds_.base.n_head * ds_.head_dim(), G = ds_.out_groups, ro = ds_.out_rank;
  const int64_t gw = HD / G;
  for (int64_t g = 0; g < G; ++g) {
    Weight a = lw.wo_a;
    a.data = static_cast<const uint8_t*>(a.data) + g * ro * RowBytes(a.type, gw);
    a.n = ro;
    MatMul(a, b_.att.data() + g * gw, T_, b_.zo.data() + g * ro, pool, HD, G * ro);
  }
  MatMul(lw.wo_b, b_.zo.data(), T_, b_.y.data(), pool);
}

void DeepSeek4Model::Attention(const Ds4Layer& lw, int64_t l, std::span<const StateBatch> batch,
                               ThreadPool* pool) {
  PreMix(lw.hc_attn, lw.attn_norm);
  Projections(lw, pool);
  Ds4LayerParams p;
  p.layer = l;
  p.ratio = lw.ratio;
  p.D = ds_.head_dim();
  p.r = ds_.rope_dim();
  p.H = ds_.base.n_head;
  p.n_swa = ds_.n_swa;
  p.idx_heads = ds_.indexer_heads;
  p.idx_dim = ds_.indexer_dim;
  p.idx_top_k = ds_.indexer_top_k;
  p.norm_eps = ds_.base.norm_eps;
  p.scale = 1.0f / std::sqrt(static_cast<float>(p.D));
  p.inv_freq = lw.inv_freq.data();
  p.sinks = lw.sinks.data;
  p.ape = lw.comp.ape;
  p.cnorm = lw.comp.norm.data;
  p.idx_ape = lw.icomp.ape;
  p.idx_cnorm = lw.icomp.norm.data;
  const int64_t HD = p.H * p.D, kw = (lw.ratio == 4 ? 2 : 1) * p.D, kwi = 2 * p.idx_dim;
  const int64_t hi = p.idx_heads * p.idx_dim;
  int64_t row = 0;
  for (const StateBatch& b : batch) {
    auto* c = static_cast<Ds4Cache*>(b.state);
    const int64_t start = c->n_tokens();
    Ds4Compress(p, c, start, b.n_tokens, b_.ca.data() + row * kw, b_.cz.data() + row * kw,
                b_.ia.data() + row * kwi, b_.iz.data() + row * kwi);
    Ds4Attend(p, c, start, b.n_tokens, b_.q.data() + row * HD, b_.kv.data() + row * p.D,
              b_.qi.data() + row * hi, b_.wi.data() + row * p.idx_heads, b_.att.data() + row * HD,
              pool);
    row += b.n_tokens;
  }
  GroupedOutput(lw, pool);
  PostMix();
}

void DeepSeek4Model::Moe(const Ds4Layer& lw, ThreadPool* pool) {
  PreMix(lw.hc_ffn, lw.ffn_norm);
  std::fill(b_.y.begin(), b_.y.begin() + T_ * ds_.base.n_embd, 0.0f);
  moe_.Run(lw.moe, b_.h.data(), T_, b_.y.data(), k_, pool, b_.tok.data());
  PostMix();
}

// X = hc copies of the token's embedding; positions and token ids of the step.
void DeepSeek4Model::Embed(std::span<const StateBatch> batch) {
  const int64_t d = hparams_.n_embd, hc = ds_.hc;
  const int64_t row_bytes = RowBytes(tok_embd_.type, d);
  int64_t row = 0;
  for (const StateBatch& b : batch) {
    const int64_t start = b.state->n_tokens();
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      pos_[row] = static_cast<int32_t>(start + t);
      b_.tok[row] = b.tokens[t];
      float* x = b_.x.data() + row * hc * d;
      const auto* src = static_cast<const uint8_t*>(tok_embd_.data) + b.tokens[t] * row_bytes;
      k_.dequantize_row(tok_embd_.type, src, x, d);
      for (int64_t s = 1; s < hc; ++s) std::copy_n(x, d, x + s * d);
    }
  }
}

// C.4 head: u = sum_s pre_s X_s, then RMSNorm(output_norm) and the output projection.
void DeepSeek4Model::Logits(std::span<const StateBatch> batch, int64_t n_out, ThreadPool* pool) {
  const MhcDims m = Mhc();
  const int64_t d = m.d, hc = m.hc;
  int64_t row = 0, out = 0;
  for (const StateBatch& b : batch) {
    const int64_t first = b.all_logits ? 0 : b.n_tokens - 1;
    for (int64_t t = first; t < b.n_tokens; ++t, ++out) {
      MhcHead(m, b_.x.data() + (row + t) * hc * d, out_hc_.fn, out_hc_.base.data,
              out_hc_.scale.data, b_.u.data() + out * d);
    }
    row += b.n_tokens;
  }
  k_.rms_norm(b_.u.data(), d, output_norm_.data, b_.h.data(), d, n_out, d, ds_.base.norm_eps);
  MatMul(output_, b_.h.data(), n_out, b_.logits.data(), pool);
}

Result<const float*> DeepSeek4Model::ForwardState(std::span<const StateBatch> batch,
                                                  ThreadPool* pool) {
  int64_t n_tok = 0, n_out = 0;
  CACHET_RETURN_IF_ERROR(CheckBatch(batch, /*paged=*/false, &n_tok, &n_out));
  for (const StateBatch& b : batch) {  // the only failure point after validation
    auto* c = static_cast<Ds4Cache*>(b.state);
    CACHET_RETURN_IF_ERROR(c->Reserve(c->n_tokens() + b.n_tokens));
  }
  return Run(batch, n_tok, n_out, pool);
}

// The paged path: entries in the sequence's pool blocks (layer row 0 of each block), window
// and compressor state in SeqBatch::state, which must be at start_pos (no rollback).
Result<const float*> DeepSeek4Model::Forward(std::span<const SeqBatch> batch, ThreadPool* pool) {
  if (!CacheDims().PagedFits()) {
    return Unsupported("deepseek4: this model's entries do not fill 64-token pool blocks");
  }
  int64_t n_tok = 0, n_out = 0;
  CACHET_RETURN_IF_ERROR(CheckSeqBatches(batch, kv_layout(), hparams_.n_vocab, &n_tok, &n_out));
  std::vector<StateBatch> sb(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const SeqBatch& b = batch[i];
    const std::string where = "batch[" + std::to_string(i) + "]: ";
    if (b.state == nullptr) {
      return InvalidArgument(where +
                             "deepseek4 needs the sequence's state (SeqBatch::state, "
                             "from StatefulModel::NewPagedState) beside its KV blocks");
    }
    if (b.state->n_tokens() != b.start_pos) {
      return InvalidArgument(where + "the state is at position " +
                             std::to_string(b.state->n_tokens()) + ", the step starts at " +
                             std::to_string(b.start_pos) + " (deepseek4 cannot roll back)");
    }
    sb[i] = StateBatch{b.state, b.tokens, b.n_tokens, b.all_logits};
  }
  CACHET_RETURN_IF_ERROR(CheckBatch(sb, /*paged=*/true, &n_tok, &n_out));
  for (size_t i = 0; i < batch.size(); ++i) {
    static_cast<Ds4Cache*>(sb[i].state)->BindBlocks(batch[i].k_blocks, batch[i].n_blocks);
  }
  const float* logits = Run(sb, n_tok, n_out, pool);
  for (const StateBatch& b : sb) static_cast<Ds4Cache*>(b.state)->UnbindBlocks();
  return logits;
}

const float* DeepSeek4Model::Run(std::span<const StateBatch> batch, int64_t n_tok, int64_t n_out,
                                 ThreadPool* pool) {
  Resize(n_tok, std::max(n_out, n_tok));
  T_ = n_tok;
  Embed(batch);
  for (int64_t l = 0; l < hparams_.n_layer; ++l) {
    Attention(layers_[l], l, batch, pool);
    Moe(layers_[l], pool);
  }
  Logits(batch, n_out, pool);
  for (const StateBatch& b : batch) {
    auto* c = static_cast<Ds4Cache*>(b.state);
    c->set_n_tokens(c->n_tokens() + b.n_tokens);
  }
  return b_.logits.data();
}

}  // namespace

Result<std::unique_ptr<Model>> LoadDeepSeek4(std::shared_ptr<const ModelFile> file,
                                             const DeepSeek4Options& options) {
  const std::string arch = file->GetString("general.architecture").value_or("");
  if (arch != "deepseek4") return Unsupported("LoadDeepSeek4: architecture '" + arch + "'");
  CACHET_ASSIGN_OR_RETURN(Ds4HParams ds, ReadDeepSeek4HParams(*file));
  auto m = std::make_unique<DeepSeek4Model>(std::move(ds), options, std::move(file));
  CACHET_RETURN_IF_ERROR(m->LoadWeights());
  return std::unique_ptr<Model>(std::move(m));
}

namespace arch {

// CACHET_DS4_CACHE=f32 keeps the deepseek4 cache in f32 (numerics runs).
void RegisterDeepSeek4(std::vector<ArchEntry>* out) {
  auto load = [](std::shared_ptr<const ModelFile> f) {
    DeepSeek4Options o;
    if (const char* e = std::getenv("CACHET_DS4_CACHE"); e != nullptr && std::string(e) == "f32") {
      o.cache_type = DType::kF32;
    }
    return LoadDeepSeek4(std::move(f), o);
  };
  out->push_back({"deepseek4", load});
}

}  // namespace arch
}  // namespace cachet::model
