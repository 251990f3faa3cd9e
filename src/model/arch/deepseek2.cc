// `deepseek2`: MLA + DeepSeekMoE (deepseek.md Part A). See deepseek2.h for the contract.
#include "model/arch/deepseek2.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <list>

#include "base/log.h"
#include "kernels/kernels.h"
#include "model/arch/arch.h"
#include "model/dsa_indexer.h"
#include "model/mla_attention.h"
#include "model/moe.h"
#include "model/weights.h"

namespace cachet::model {
namespace {

std::string Blk(int64_t i, const char* name) { return "blk." + std::to_string(i) + "." + name; }

struct IndexerWeights {  // deepseek32 lightning indexer (B.1)
  Weight wq_b;           // indexer.attn_q_b [r_q, H_I*d_I]
  Weight wk;             // indexer.attn_k [d, d_I]
  Weight proj;           // indexer.proj [d, H_I]
  VecF32 k_norm_w, k_norm_b;
};

struct MlaWeights {
  VecF32 attn_norm, q_a_norm, kv_a_norm;
  bool has_indexer = false;
  IndexerWeights idx;
  Weight wq;          // attn_q [d, H*d_qk] when r_q = 0
  Weight wq_a, wq_b;  // attn_q_a [d, r_q], attn_q_b [r_q, H*d_qk] when r_q > 0
  Weight wkv_a;       // attn_kv_a_mqa [d, r_kv + r]
  Weight wk_b;        // attn_k_b [d_nope, r_kv, H]: H*r_kv rows of d_nope (Kb_h)
  Weight wv_b;        // attn_v_b [r_kv, d_v, H]: H*d_v rows of r_kv (Vb_h)
  Weight wo;          // attn_output [H*d_v, d]
  // Vb_h = rows [v_row0 + h * v_stride, + d_v) of wv_b. MLA files: 0 and d_v; legacy files
  // point into attn_kv_b: d_nope and d_nope + d_v.
  int64_t v_row0 = 0, v_stride = 0;
};

struct LayerWeights {
  MlaWeights attn;
  VecF32 ffn_norm;
  bool dense = true;
  Weight gate, up, down;  // dense FFN
  MoeWeights moe;
};

struct MtpWeights {  // deepseek.md A.9 (loaded, not run yet)
  LayerWeights layer;
  Weight eh_proj;  // [2d, d]
  VecF32 enorm, hnorm, shared_head_norm;
};

// The activations of one step, grown to the largest step seen (no per-token allocation).
struct Buffers {
  std::vector<float> x, h, qa, q, kva, att, gate, up, logits;
  std::vector<int32_t> pos;
  // Absorbed path: rows of absorbed sequences, gathered.
  std::vector<float> qg, qabs, obar, attg;
  std::vector<int32_t> posg;
  // Expanded path: latent rows, decompressed K / V, W_UK transposed.
  std::vector<float> lat, kexp, vexp, wuk_t;
  // MTP: [e ; h] inputs of eh_proj, and a copy of the caller's h_prev.
  std::vector<float> eh, hprev;
  // deepseek32 indexer: queries, keys, head weights, selections.
  std::vector<float> qi, ki, wi;
  std::vector<int32_t> sel, nsel;
};

class DeepSeek2Model final : public Model, public MtpSource {
 public:
  DeepSeek2Model(DeepSeekHParams ds, DeepSeek2Options opt, std::shared_ptr<const ModelFile> file)
      : Model(std::move(file), ds.base),
        ds_(std::move(ds)),
        opt_(opt),
        k_(kernels::Kernels()),
        moe_(MakeRouterConfig(ds_), ds_.base.n_embd, ds_.n_ff_exp) {}

  Status LoadWeights();
  // The matrices read through MatMul / MatMulRows in the kernel table's packed layout
  // (kernels/packed_arena.h); the per-head MLA blocks (wk_b, wv_b) are read as row slices.
  void PackWeights();
  KvLayout kv_layout() const override { return kv_; }
  Result<const float*> Forward(std::span<const SeqBatch> batch, ThreadPool* pool) override;

  int64_t mtp_blocks() const override { return static_cast<int64_t>(mtp_.size()); }
  KvLayout mtp_kv_layout() const override {
    KvLayout l = kv_;
    l.n_layer = 1;
    l.head_dim_v = 0;  // MTP blocks have no indexer
    return l;
  }
  const float* last_hidden() const override { return b_.h.data(); }
  Result<const float*> ForwardMtp(const SeqBatch& b, const float* h_prev,
                                  ThreadPool* pool) override;

 private:
  static RouterConfig MakeRouterConfig(const DeepSeekHParams& ds);
  Status LoadMla(WeightLoader& wl, int64_t i, MlaWeights* w);
  Status LoadLegacyKvB(WeightLoader& wl, int64_t i, MlaWeights* w);
  Status LoadLayer(WeightLoader& wl, int64_t i, LayerWeights* lw);
  Status LoadMtp(WeightLoader& wl, int64_t i, MtpWeights* mw);
  Status CheckBatch(std::span<const SeqBatch> batch, int64_t* n_tok, int64_t* n_out) const;
  void Resize(int64_t n_tok, int64_t n_out);
  void MatMul(const Weight& w, const float* x, int64_t m, float* y, bool acc, ThreadPool* pool);
  void Projections(const MlaWeights& w, ThreadPool* pool);
  void IndexerProjections(const IndexerWeights& x, kernels::RopeParams rp, ThreadPool* pool);
  void StoreIndexerKeys(int64_t layer, std::span<const SeqBatch> batch);
  void StoreKv(int64_t layer, std::span<const SeqBatch> batch);
  bool Expanded(const SeqBatch& b) const;
  void AttendAbsorbed(const MlaWeights& w, int64_t layer, std::span<const SeqBatch> batch,
                      ThreadPool* pool);
  void AbsorbQueries(const MlaWeights& w, int64_t n_abs, ThreadPool* pool);
  void AttendLatent(const MlaWeights& w, int64_t layer, const SeqBatch& b, int64_t row0, int64_t g0,
                    ThreadPool* pool);
  void ApplyWuv(const MlaWeights& w, int64_t n_abs, ThreadPool* pool);
  void SelectSparse(const SeqBatch& b, int64_t layer, int64_t row0, MlaAttentionParams* ap,
                    ThreadPool* pool);
  void AttendExpanded(const MlaWeights& w, int64_t layer, const SeqBatch& b, int64_t row0,
                      ThreadPool* pool);
  void Attention(const MlaWeights& w, int64_t layer, std::span<const SeqBatch> batch,
                 ThreadPool* pool);
  void Ffn(const LayerWeights& lw, ThreadPool* pool);
  void Embed(std::span<const SeqBatch> batch);
  void Logits(std::span<const SeqBatch> batch, int64_t n_out, const VecF32& norm, ThreadPool* pool);

  DeepSeekHParams ds_;
  DeepSeek2Options opt_;
  const kernels::KernelTable& k_;
  MoeFfn moe_;
  std::vector<LayerWeights> layers_;
  std::vector<MtpWeights> mtp_;
  Weight tok_embd_, output_;
  VecF32 output_norm_;
  std::vector<float> inv_freq_;
  std::vector<std::vector<float>> owned_;
  kernels::PackedArena packed_;               // the matrices in the kernel table's packed layout
  std::list<std::vector<float>> legacy_f32_;  // Kb built from attn_kv_b (stable addresses)
  std::list<std::vector<uint8_t>> legacy_q_;
  KvLayout kv_;
  int64_t n_tok_ = 0, n_tok_cur_ = 0;
  int64_t sparse_rows_ = 0;  // rows of b_.sel used so far in this layer
  Buffers b_;
};

RouterConfig DeepSeek2Model::MakeRouterConfig(const DeepSeekHParams& ds) {
  RouterConfig c;
  c.n_expert = ds.n_expert;
  c.n_used = ds.n_expert_used;
  c.n_group = ds.n_group;
  c.n_group_used = ds.n_group_used;
  c.gating = ds.gating;
  c.weights_norm = ds.weights_norm;
  c.weights_scale = ds.weights_scale;
  return c;
}

Status DeepSeek2Model::LoadMla(WeightLoader& wl, int64_t i, MlaWeights* w) {
  const int64_t d = ds_.base.n_embd, H = ds_.base.n_head, dqk = ds_.qk_head_dim();
  const int64_t rkv = ds_.kv_lora_rank, r = ds_.qk_rope_dim;
  CACHET_ASSIGN_OR_RETURN(w->attn_norm, wl.Vector(Blk(i, "attn_norm.weight"), d));
  if (ds_.q_lora_rank > 0) {
    const int64_t rq = ds_.q_lora_rank;
    CACHET_ASSIGN_OR_RETURN(w->wq_a, wl.Matrix(Blk(i, "attn_q_a.weight"), d, rq));
    CACHET_ASSIGN_OR_RETURN(w->q_a_norm, wl.Vector(Blk(i, "attn_q_a_norm.weight"), rq));
    CACHET_ASSIGN_OR_RETURN(w->wq_b, wl.Matrix(Blk(i, "attn_q_b.weight"), rq, H * dqk));
  } else {
    CACHET_ASSIGN_OR_RETURN(w->wq, wl.Matrix(Blk(i, "attn_q.weight"), d, H * dqk));
  }
  CACHET_ASSIGN_OR_RETURN(w->wkv_a, wl.Matrix(Blk(i, "attn_kv_a_mqa.weight"), d, rkv + r));
  CACHET_ASSIGN_OR_RETURN(w->kv_a_norm, wl.Vector(Blk(i, "attn_kv_a_norm.weight"), rkv));
  if (ds_.legacy_kv_b || (file_->FindTensor(Blk(i, "attn_k_b.weight")) == nullptr &&
                          file_->FindTensor(Blk(i, "attn_kv_b.weight")) != nullptr)) {
    CACHET_RETURN_IF_ERROR(LoadLegacyKvB(wl, i, w));
  } else {
    CACHET_ASSIGN_OR_RETURN(w->wk_b,
                            wl.Matrix3(Blk(i, "attn_k_b.weight"), ds_.qk_nope_dim, rkv, H));
    CACHET_ASSIGN_OR_RETURN(w->wv_b, wl.Matrix3(Blk(i, "attn_v_b.weight"), rkv, ds_.v_head_dim, H));
    w->v_row0 = 0;
    w->v_stride = ds_.v_head_dim;
  }
  CACHET_ASSIGN_OR_RETURN(w->wo, wl.Matrix(Blk(i, "attn_output.weight"), H * ds_.v_head_dim, d));
  if (ds_.indexer_heads > 0 && i < ds_.base.n_layer) {  // MTP blocks run dense MLA (B.1)
    const int64_t hi = ds_.indexer_heads, di = ds_.indexer_dim;
    IndexerWeights& x = w->idx;
    w->has_indexer = true;
    CACHET_ASSIGN_OR_RETURN(x.wq_b,
                            wl.Matrix(Blk(i, "indexer.attn_q_b.weight"), ds_.q_lora_rank, hi * di));
    CACHET_ASSIGN_OR_RETURN(x.wk, wl.Matrix(Blk(i, "indexer.attn_k.weight"), d, di));
    CACHET_ASSIGN_OR_RETURN(x.k_norm_w, wl.Vector(Blk(i, "indexer.k_norm.weight"), di));
    CACHET_ASSIGN_OR_RETURN(x.k_norm_b, wl.Vector(Blk(i, "indexer.k_norm.bias"), di));
    CACHET_ASSIGN_OR_RETURN(x.proj, wl.Matrix(Blk(i, "indexer.proj.weight"), d, hi));
  }
  return Status::Ok();
}

// Legacy attn_kv_b [r_kv, H*(d_nope + d_v)] (A.5.1): V rows are used in place; Kb_h = W_UK[h]^T
// is built once (f32 for float sources, else q8_0, rows of d_nope) so the absorbed path works.
Status DeepSeek2Model::LoadLegacyKvB(WeightLoader& wl, int64_t i, MlaWeights* w) {
  const int64_t H = ds_.base.n_head, dn = ds_.qk_nope_dim, dv = ds_.v_head_dim;
  const int64_t rkv = ds_.kv_lora_rank;
  CACHET_ASSIGN_OR_RETURN(Weight kvb, wl.Matrix(Blk(i, "attn_kv_b.weight"), rkv, H * (dn + dv)));
  w->wv_b = kvb;
  w->v_row0 = dn;
  w->v_stride = dn + dv;
  std::vector<float> kb(H * rkv * dn), row(rkv);
  const int64_t rb = RowBytes(kvb.type, rkv);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t d = 0; d < dn; ++d) {
      const auto* src = static_cast<const uint8_t*>(kvb.data) + (h * (dn + dv) + d) * rb;
      k_.dequantize_row(kvb.type, src, row.data(), rkv);
      for (int64_t c = 0; c < rkv; ++c) kb[(h * rkv + c) * dn + d] = row[c];
    }
  }
  w->wk_b.k = dn;
  w->wk_b.n = H * rkv;
  const bool is_float =
      kvb.type == DType::kF32 || kvb.type == DType::kF16 || kvb.type == DType::kBF16;
  if (is_float || dn % kQK8_0 != 0) {
    legacy_f32_.push_back(std::move(kb));
    w->wk_b.type = DType::kF32;
    w->wk_b.data = legacy_f32_.back().data();
    return Status::Ok();
  }
  const int64_t qrb = RowBytes(DType::kQ8_0, dn);
  std::vector<uint8_t> q(H * rkv * qrb);
  for (int64_t r = 0; r < H * rkv; ++r) {
    CACHET_RETURN_IF_ERROR(
        kernels::QuantizeRow(DType::kQ8_0, kb.data() + r * dn, q.data() + r * qrb, dn));
  }
  legacy_q_.push_back(std::move(q));
  w->wk_b.type = DType::kQ8_0;
  w->wk_b.data = legacy_q_.back().data();
  return Status::Ok();
}

Status DeepSeek2Model::LoadLayer(WeightLoader& wl, int64_t i, LayerWeights* lw) {
  const int64_t d = ds_.base.n_embd;
  CACHET_RETURN_IF_ERROR(LoadMla(wl, i, &lw->attn));
  CACHET_ASSIGN_OR_RETURN(lw->ffn_norm, wl.Vector(Blk(i, "ffn_norm.weight"), d));
  lw->dense = i < ds_.n_dense;
  if (lw->dense) {
    const int64_t ff = ds_.base.n_ff;
    CACHET_ASSIGN_OR_RETURN(lw->gate, wl.Matrix(Blk(i, "ffn_gate.weight"), d, ff));
    CACHET_ASSIGN_OR_RETURN(lw->up, wl.Matrix(Blk(i, "ffn_up.weight"), d, ff));
    CACHET_ASSIGN_OR_RETURN(lw->down, wl.Matrix(Blk(i, "ffn_down.weight"), ff, d));
    return Status::Ok();
  }
  if (file_->FindTensor(Blk(i, "ffn_gate_up_exps.weight")) != nullptr) {
    return Unsupported("tensor " + Blk(i, "ffn_gate_up_exps.weight") + ": fused experts");
  }
  const int64_t E = ds_.n_expert, f = ds_.n_ff_exp, fs = f * ds_.n_expert_shared;
  MoeWeights& m = lw->moe;
  CACHET_ASSIGN_OR_RETURN(m.router, wl.Matrix(Blk(i, "ffn_gate_inp.weight"), d, E));
  CACHET_ASSIGN_OR_RETURN(m.bias, wl.Vector(Blk(i, "exp_probs_b.bias"), E, false));
  CACHET_ASSIGN_OR_RETURN(m.gate_exps, wl.Matrix3(Blk(i, "ffn_gate_exps.weight"), d, f, E));
  CACHET_ASSIGN_OR_RETURN(m.up_exps, wl.Matrix3(Blk(i, "ffn_up_exps.weight"), d, f, E));
  CACHET_ASSIGN_OR_RETURN(m.down_exps, wl.Matrix3(Blk(i, "ffn_down_exps.weight"), f, d, E));
  if (fs > 0) {
    CACHET_ASSIGN_OR_RETURN(m.gate_shexp, wl.Matrix(Blk(i, "ffn_gate_shexp.weight"), d, fs));
    CACHET_ASSIGN_OR_RETURN(m.up_shexp, wl.Matrix(Blk(i, "ffn_up_shexp.weight"), d, fs));
    CACHET_ASSIGN_OR_RETURN(m.down_shexp, wl.Matrix(Blk(i, "ffn_down_shexp.weight"), fs, d));
  }
  return Status::Ok();
}

Status DeepSeek2Model::LoadMtp(WeightLoader& wl, int64_t i, MtpWeights* mw) {
  const int64_t d = ds_.base.n_embd;
  CACHET_RETURN_IF_ERROR(LoadLayer(wl, i, &mw->layer));
  CACHET_ASSIGN_OR_RETURN(mw->eh_proj, wl.Matrix(Blk(i, "nextn.eh_proj.weight"), 2 * d, d));
  CACHET_ASSIGN_OR_RETURN(mw->enorm, wl.Vector(Blk(i, "nextn.enorm.weight"), d));
  CACHET_ASSIGN_OR_RETURN(mw->hnorm, wl.Vector(Blk(i, "nextn.hnorm.weight"), d));
  CACHET_ASSIGN_OR_RETURN(mw->shared_head_norm,
                          wl.Vector(Blk(i, "nextn.shared_head_norm.weight"), d, false));
  if (file_->FindTensor(Blk(i, "nextn.embed_tokens.weight")) != nullptr ||
      file_->FindTensor(Blk(i, "nextn.shared_head_head.weight")) != nullptr) {
    return Unsupported("MTP block " + std::to_string(i) + ": own embedding / head tensors");
  }
  return Status::Ok();
}

void DeepSeek2Model::PackWeights() {
  std::vector<Weight*> ws;
  auto add_layer = [&](LayerWeights& l) {
    MlaWeights& a = l.attn;
    MoeWeights& m = l.moe;
    ws.insert(ws.end(), {&a.wq,      &a.wq_a,      &a.wq_b,       &a.wkv_a,    &a.wk_b,
                         &a.wv_b,    &a.wo,        &a.idx.wq_b,   &a.idx.wk,   &a.idx.proj,
                         &l.gate,    &l.up,        &l.down,       &m.router,   &m.gate_exps,
                         &m.up_exps, &m.down_exps, &m.gate_shexp, &m.up_shexp, &m.down_shexp});
  };
  for (LayerWeights& l : layers_) add_layer(l);
  for (MtpWeights& m : mtp_) {
    add_layer(m.layer);
    ws.push_back(&m.eh_proj);
  }
  ws.push_back(&output_);
  PackMatrices(k_, *file_, ws, &packed_);
}

Status DeepSeek2Model::LoadWeights() {
  HParams& hp = hparams_;
  const TensorInfo* emb = file_->FindTensor("token_embd.weight");
  if (emb == nullptr) return Corrupt("missing tensor token_embd.weight");
  if (hp.n_vocab == 0) hp.n_vocab = emb->ne[1];
  ds_.base.n_vocab = hp.n_vocab;
  WeightLoader wl(*file_);
  CACHET_ASSIGN_OR_RETURN(tok_embd_, wl.Matrix("token_embd.weight", hp.n_embd, hp.n_vocab));
  CACHET_ASSIGN_OR_RETURN(output_norm_, wl.Vector("output_norm.weight", hp.n_embd));
  CACHET_ASSIGN_OR_RETURN(output_, wl.Matrix("output.weight", hp.n_embd, hp.n_vocab, false));
  if (!output_.present()) output_ = tok_embd_;  // tied (A.8)
  layers_.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) CACHET_RETURN_IF_ERROR(LoadLayer(wl, i, &layers_[i]));
  mtp_.resize(ds_.n_mtp);
  for (int64_t j = 0; j < ds_.n_mtp; ++j) {
    CACHET_RETURN_IF_ERROR(LoadMtp(wl, hp.n_layer + j, &mtp_[j]));
  }
  for (const auto& name : wl.Unused()) LOG_WARN << "unused tensor " << name;
  owned_ = wl.TakeOwned();
  PackWeights();
  float mscale = 1.0f;
  inv_freq_ = RopeInvFreq(hp, nullptr, &mscale);  // magnitude is 1 for deepseek2 (A.6)
  kv_.n_layer = hp.n_layer;
  kv_.n_kv_heads = 1;
  kv_.head_dim_k = ds_.kv_cache_dim();
  kv_.head_dim_v = ds_.indexer_dim;  // deepseek32: the "V" rows hold the indexer keys (B.3)
  kv_.type = opt_.kv_type;
  if (kv_.type != DType::kF16 && kv_.type != DType::kBF16 && kv_.type != DType::kF32) {
    return InvalidArgument("deepseek2: KV cache type must be f16, bf16 or f32");
  }
  return Status::Ok();
}

Status DeepSeek2Model::CheckBatch(std::span<const SeqBatch> batch, int64_t* n_tok,
                                  int64_t* n_out) const {
  return CheckSeqBatches(batch, kv_, hparams_.n_vocab, n_tok, n_out);
}

void DeepSeek2Model::Resize(int64_t n_tok, int64_t n_out) {
  const int64_t d = ds_.base.n_embd, H = ds_.base.n_head;
  if (n_tok > n_tok_) {
    n_tok_ = n_tok;
    b_.x.resize(n_tok * d);
    b_.h.resize(n_tok * d);
    b_.qa.resize(n_tok * std::max<int64_t>(ds_.q_lora_rank, 1));
    b_.q.resize(n_tok * H * ds_.qk_head_dim());
    b_.kva.resize(n_tok * ds_.kv_cache_dim());
    b_.att.resize(n_tok * H * ds_.v_head_dim);
    b_.gate.resize(n_tok * ds_.base.n_ff);
    b_.up.resize(n_tok * ds_.base.n_ff);
    b_.pos.resize(n_tok);
  }
  if (static_cast<int64_t>(b_.logits.size()) < n_out * hparams_.n_vocab) {
    b_.logits.resize(n_out * hparams_.n_vocab);
  }
}

void DeepSeek2Model::MatMul(const Weight& w, const float* x, int64_t m, float* y, bool acc,
                            ThreadPool* pool) {
  kernels::MatmulParams p;
  p.w_type = w.type;
  p.w = w.data;
  p.w_packed = w.packed;
  p.x = x;
  p.y = y;
  p.m = m;
  p.n = w.n;
  p.k = w.k;
  p.ldx = w.k;
  p.ldy = w.n;
  p.accumulate = acc;
  k_.matmul(p, pool);
}

// q (rope part roped) and [c (normed) ; kr (roped)] for every token of the step.
void DeepSeek2Model::Projections(const MlaWeights& w, ThreadPool* pool) {
  const HParams& hp = ds_.base;
  const int64_t T = n_tok_cur_, H = hp.n_head, dqk = ds_.qk_head_dim();
  const int64_t rkv = ds_.kv_lora_rank, r = ds_.qk_rope_dim, dkv = ds_.kv_cache_dim();
  k_.rms_norm(b_.x.data(), hp.n_embd, w.attn_norm.data, b_.h.data(), hp.n_embd, T, hp.n_embd,
              hp.norm_eps);
  if (ds_.q_lora_rank > 0) {
    const int64_t rq = ds_.q_lora_rank;
    MatMul(w.wq_a, b_.h.data(), T, b_.qa.data(), false, pool);
    k_.rms_norm(b_.qa.data(), rq, w.q_a_norm.data, b_.qa.data(), rq, T, rq, hp.norm_eps);
    MatMul(w.wq_b, b_.qa.data(), T, b_.q.data(), false, pool);
  } else {
    MatMul(w.wq, b_.h.data(), T, b_.q.data(), false, pool);
  }
  MatMul(w.wkv_a, b_.h.data(), T, b_.kva.data(), false, pool);
  k_.rms_norm(b_.kva.data(), dkv, w.kv_a_norm.data, b_.kva.data(), dkv, T, rkv, hp.norm_eps);
  kernels::RopeParams rp;
  rp.pos = b_.pos.data();
  rp.inv_freq = inv_freq_.data();
  rp.n_tokens = T;
  rp.n_rot = r;
  rp.mscale = 1.0f;
  rp.mode = kernels::RopeMode::kNorm;
  rp.x = b_.q.data() + ds_.qk_nope_dim;  // each head's rope part is its last r values
  rp.n_heads = H;
  rp.head_dim = dqk;
  rp.row_stride = H * dqk;
  k_.rope(rp);
  rp.x = b_.kva.data() + rkv;
  rp.n_heads = 1;
  rp.head_dim = r;
  rp.row_stride = dkv;
  k_.rope(rp);
  if (w.has_indexer) IndexerProjections(w.idx, rp, pool);
}

// B.2: qI from the normalised q latent, kI = LayerNorm(W_Ik h), both with NEOX RoPE on their
// FIRST r values; head weights W_Iproj h / sqrt(d_I H_I).
void DeepSeek2Model::IndexerProjections(const IndexerWeights& x, kernels::RopeParams rp,
                                        ThreadPool* pool) {
  const int64_t T = n_tok_cur_, hi = ds_.indexer_heads, di = ds_.indexer_dim;
  b_.qi.resize(T * hi * di);
  b_.ki.resize(T * di);
  b_.wi.resize(T * hi);
  MatMul(x.wq_b, b_.qa.data(), T, b_.qi.data(), false, pool);
  MatMul(x.wk, b_.h.data(), T, b_.ki.data(), false, pool);
  LayerNormRows(b_.ki.data(), x.k_norm_w.data, x.k_norm_b.data, b_.ki.data(), T, di, 1e-6f);
  MatMul(x.proj, b_.h.data(), T, b_.wi.data(), false, pool);
  const float ws = 1.0f / std::sqrt(static_cast<float>(di * hi));
  for (float& v : b_.wi) v *= ws;
  rp.mode = kernels::RopeMode::kNeox;
  rp.x = b_.qi.data();
  rp.n_heads = hi;
  rp.head_dim = di;
  rp.row_stride = hi * di;
  k_.rope(rp);
  rp.x = b_.ki.data();
  rp.n_heads = 1;
  rp.row_stride = di;
  k_.rope(rp);
}

void DeepSeek2Model::StoreKv(int64_t layer, std::span<const SeqBatch> batch) {
  const int64_t dkv = kv_.k_dim(), bt = kv_.block_tokens;
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      const int64_t p = b.start_pos + t;
      auto* blk = static_cast<uint8_t*>(b.k_blocks[layer * b.n_blocks + p / bt]);
      MlaStoreRow(kv_.type, b_.kva.data() + row * dkv, blk + (p % bt) * dkv * kv_.elem_bytes(),
                  dkv);
    }
  }
}

void DeepSeek2Model::StoreIndexerKeys(int64_t layer, std::span<const SeqBatch> batch) {
  const int64_t di = ds_.indexer_dim, bt = kv_.block_tokens;
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      const int64_t p = b.start_pos + t;
      auto* blk = static_cast<uint8_t*>(b.v_blocks[layer * b.n_blocks + p / bt]);
      MlaStoreRow(kv_.type, b_.ki.data() + row * di, blk + (p % bt) * di * kv_.elem_bytes(), di);
    }
  }
}

bool DeepSeek2Model::Expanded(const SeqBatch& b) const {
  switch (opt_.mla_path) {
    case MlaPath::kAbsorbed:
      return false;
    case MlaPath::kExpanded:
      return ds_.indexer_heads == 0 || b.start_pos + b.n_tokens <= ds_.indexer_top_k;
    case MlaPath::kAuto:
      break;
  }
  // Sparse (deepseek32) chunks need the per-query selection only the absorbed path applies.
  if (ds_.indexer_heads > 0 && b.start_pos + b.n_tokens > ds_.indexer_top_k) return false;
  MlaDims d{ds_.base.n_head, ds_.kv_lora_rank, ds_.qk_rope_dim, ds_.qk_nope_dim, ds_.v_head_dim};
  return MlaUseExpanded(d, b.n_tokens, b.start_pos + b.n_tokens);
}

// Runs fn(h) for every head on the pool, each with single-threaded kernels (the per-head
// matmuls are small; one dispatch instead of H).
void ForHeads(ThreadPool* pool, int64_t H, const std::function<void(int64_t)>& fn) {
  auto body = [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) fn(h);
  };
  if (pool == nullptr || pool->size() <= 1) {
    body(0, H);
  } else {
    pool->ParallelFor(H, 1, body);
  }
}

// Absorbed path (A.5.2) for every sequence not taking the expanded path: their rows are
// gathered so the per-head absorptions (W_UK before, W_UV after) run once per step.
void DeepSeek2Model::AttendAbsorbed(const MlaWeights& w, int64_t layer,
                                    std::span<const SeqBatch> batch, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, dqk = ds_.qk_head_dim(), dv = ds_.v_head_dim;
  int64_t n_abs = 0;
  for (const SeqBatch& b : batch) n_abs += Expanded(b) ? 0 : b.n_tokens;
  if (n_abs == 0) return;
  b_.qg.resize(n_abs * H * dqk);
  b_.posg.resize(n_abs);
  b_.obar.resize(n_abs * H * ds_.kv_lora_rank);
  int64_t row = 0, g = 0;
  for (const SeqBatch& b : batch) {
    if (!Expanded(b)) {
      std::copy_n(b_.q.data() + row * H * dqk, b.n_tokens * H * dqk, b_.qg.data() + g * H * dqk);
      std::copy_n(b_.pos.data() + row, b.n_tokens, b_.posg.data() + g);
      g += b.n_tokens;
    }
    row += b.n_tokens;
  }
  AbsorbQueries(w, n_abs, pool);
  if (w.has_indexer) {  // selections exist only where the context exceeds top_k (<= T * n_kv)
    int64_t n_sparse = 0;
    for (const SeqBatch& b : batch) {
      if (b.start_pos + b.n_tokens > ds_.indexer_top_k) n_sparse += b.n_tokens;
    }
    b_.sel.resize(std::max<size_t>(b_.sel.size(), n_sparse * ds_.indexer_top_k));
    b_.nsel.resize(n_tok_cur_);
    sparse_rows_ = 0;
  }
  row = 0;
  g = 0;
  for (const SeqBatch& b : batch) {
    if (!Expanded(b)) {
      AttendLatent(w, layer, b, row, g, pool);
      g += b.n_tokens;
    }
    row += b.n_tokens;
  }
  ApplyWuv(w, n_abs, pool);
  row = 0;
  g = 0;
  for (const SeqBatch& b : batch) {
    if (!Expanded(b)) {
      std::copy_n(b_.attg.data() + g * H * dv, b.n_tokens * H * dv, b_.att.data() + row * H * dv);
      g += b.n_tokens;
    }
    row += b.n_tokens;
  }
}

// Q_h = [Kb_h qn_h ; qr_h] for the n_abs gathered rows, one pool dispatch over the heads.
void DeepSeek2Model::AbsorbQueries(const MlaWeights& w, int64_t n_abs, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, dqk = ds_.qk_head_dim(), dn = ds_.qk_nope_dim;
  const int64_t rkv = ds_.kv_lora_rank, dkv = ds_.kv_cache_dim();
  b_.qabs.resize(n_abs * H * dkv);
  ForHeads(pool, H, [&](int64_t h) {
    kernels::MatmulParams p;
    p.w_type = w.wk_b.type;
    p.w = static_cast<const uint8_t*>(w.wk_b.data) + h * rkv * RowBytes(w.wk_b.type, dn);
    p.w_packed = kernels::PackedRows(k_, w.wk_b.type, w.wk_b.packed, dn, h * rkv);
    p.x = b_.qg.data() + h * dqk;
    p.ldx = H * dqk;
    p.y = b_.qabs.data() + h * dkv;
    p.ldy = H * dkv;
    p.m = n_abs;
    p.n = rkv;
    p.k = dn;
    k_.matmul(p, nullptr);
    for (int64_t t = 0; t < n_abs; ++t) {
      const float* src = b_.qg.data() + (t * H + h) * dqk + dn;
      std::copy_n(src, ds_.qk_rope_dim, b_.qabs.data() + (t * H + h) * dkv + rkv);
    }
  });
}

// Attention of sequence `b` (step rows row0.., gathered rows g0..) over its latent cache, with
// the indexer's selection for deepseek32 layers.
void DeepSeek2Model::AttendLatent(const MlaWeights& w, int64_t layer, const SeqBatch& b,
                                  int64_t row0, int64_t g0, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, rkv = ds_.kv_lora_rank, dkv = ds_.kv_cache_dim();
  MlaAttentionParams ap;
  ap.q = b_.qabs.data() + g0 * H * dkv;
  ap.out = b_.obar.data() + g0 * H * rkv;
  ap.q_pos = b_.posg.data() + g0;
  ap.blocks = const_cast<const void* const*>(b.k_blocks + layer * b.n_blocks);
  ap.kv_type = kv_.type;
  ap.n_q = b.n_tokens;
  ap.n_kv = b.start_pos + b.n_tokens;
  ap.block_tokens = kv_.block_tokens;
  ap.n_heads = H;
  ap.kv_lora_rank = rkv;
  ap.rope_dim = ds_.qk_rope_dim;
  ap.q_stride = H * dkv;
  ap.out_stride = H * rkv;
  ap.scale = ds_.attn_scale();
  if (w.has_indexer) SelectSparse(b, layer, row0, &ap, pool);
  MlaAttention(k_, ap, pool);
}

// o_h = Vb_h o_bar_h for the n_abs gathered rows into b_.attg.
void DeepSeek2Model::ApplyWuv(const MlaWeights& w, int64_t n_abs, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, rkv = ds_.kv_lora_rank, dv = ds_.v_head_dim;
  b_.attg.resize(n_abs * H * dv);
  ForHeads(pool, H, [&](int64_t h) {
    kernels::MatmulParams p;
    p.w_type = w.wv_b.type;
    p.w = static_cast<const uint8_t*>(w.wv_b.data) +
          (w.v_row0 + h * w.v_stride) * RowBytes(w.wv_b.type, rkv);
    p.w_packed =
        kernels::PackedRows(k_, w.wv_b.type, w.wv_b.packed, rkv, w.v_row0 + h * w.v_stride);
    p.x = b_.obar.data() + h * rkv;
    p.ldx = H * rkv;
    p.y = b_.attg.data() + h * dv;
    p.ldy = H * dv;
    p.m = n_abs;
    p.n = dv;
    p.k = rkv;
    k_.matmul(p, nullptr);
  });
}

// B.2: the indexer's top-k positions for each query row of `b` (rows row0..), into `ap`.
void DeepSeek2Model::SelectSparse(const SeqBatch& b, int64_t layer, int64_t row0,
                                  MlaAttentionParams* ap, ThreadPool* pool) {
  const int64_t hi = ds_.indexer_heads, di = ds_.indexer_dim, k = ds_.indexer_top_k;
  if (b.start_pos + b.n_tokens <= k) return;  // every query sees <= top_k keys: dense
  IndexerParams ip;
  ip.q = b_.qi.data() + row0 * hi * di;
  ip.w = b_.wi.data() + row0 * hi;
  ip.q_pos = b_.pos.data() + row0;
  ip.blocks = const_cast<const void* const*>(b.v_blocks + layer * b.n_blocks);
  ip.kv_type = kv_.type;
  ip.n_q = b.n_tokens;
  ip.n_kv = b.start_pos + b.n_tokens;
  ip.block_tokens = kv_.block_tokens;
  ip.n_heads = hi;
  ip.head_dim = di;
  ip.top_k = k;
  ip.sel = b_.sel.data() + sparse_rows_ * k;  // packed: only sparse sequences take room
  sparse_rows_ += b.n_tokens;
  ip.n_sel = b_.nsel.data() + row0;
  IndexerSelect(ip, pool);
  ap->sel = ip.sel;
  ap->n_sel = ip.n_sel;
  ap->sel_stride = k;
}

// Expanded path (A.5.3) for one sequence: decompress K (per head, nope part from W_UK, rope part
// the shared kr) and V for all its cached tokens, then ordinary MHA with the table's kernel.
void DeepSeek2Model::AttendExpanded(const MlaWeights& w, int64_t layer, const SeqBatch& b,
                                    int64_t row0, ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, dqk = ds_.qk_head_dim(), dn = ds_.qk_nope_dim;
  const int64_t rkv = ds_.kv_lora_rank, dkv = ds_.kv_cache_dim(), dv = ds_.v_head_dim;
  const int64_t nkv = b.start_pos + b.n_tokens, bt = kv_.block_tokens;
  b_.lat.resize(nkv * dkv);
  for (int64_t j = 0; j < nkv; ++j) {
    const auto* blk = static_cast<const uint8_t*>(b.k_blocks[layer * b.n_blocks + j / bt]);
    MlaLoadRow(kv_.type, blk + (j % bt) * dkv * kv_.elem_bytes(), b_.lat.data() + j * dkv, dkv);
  }
  b_.kexp.resize(nkv * H * dqk);
  b_.vexp.resize(nkv * H * dv);
  ForHeads(pool, H, [&](int64_t h) {
    kernels::MatmulParams p;
    p.w_type = DType::kF32;
    p.w = b_.wuk_t.data() + h * dn * rkv;
    p.x = b_.lat.data();
    p.ldx = dkv;
    p.y = b_.kexp.data() + h * dqk;
    p.ldy = H * dqk;
    p.m = nkv;
    p.n = dn;
    p.k = rkv;
    k_.matmul(p, nullptr);
    for (int64_t j = 0; j < nkv; ++j) {
      std::copy_n(b_.lat.data() + j * dkv + rkv, ds_.qk_rope_dim,
                  b_.kexp.data() + (j * H + h) * dqk + dn);
    }
  });
  ForHeads(pool, H, [&](int64_t h) {  // v_h(t) = Vb_h c(t)
    kernels::MatmulParams p;
    p.w_type = w.wv_b.type;
    p.w = static_cast<const uint8_t*>(w.wv_b.data) +
          (w.v_row0 + h * w.v_stride) * RowBytes(w.wv_b.type, rkv);
    p.w_packed =
        kernels::PackedRows(k_, w.wv_b.type, w.wv_b.packed, rkv, w.v_row0 + h * w.v_stride);
    p.x = b_.lat.data();
    p.ldx = dkv;
    p.y = b_.vexp.data() + h * dv;
    p.ldy = H * dv;
    p.m = nkv;
    p.n = dv;
    p.k = rkv;
    k_.matmul(p, nullptr);
  });
  const void* kptr = b_.kexp.data();
  const void* vptr = b_.vexp.data();
  kernels::AttentionParams ap;
  ap.q = b_.q.data() + row0 * H * dqk;
  ap.out = b_.att.data() + row0 * H * dv;
  ap.q_pos = b_.pos.data() + row0;
  ap.k_blocks = &kptr;
  ap.v_blocks = &vptr;
  ap.kv_type = DType::kF32;
  ap.n_q = b.n_tokens;
  ap.n_kv = nkv;
  ap.block_tokens = nkv;  // one block holding everything
  ap.n_heads = H;
  ap.n_kv_heads = H;
  ap.head_dim = dqk;
  ap.head_dim_v = dv;
  ap.q_stride = H * dqk;
  ap.out_stride = H * dv;
  ap.scale = ds_.attn_scale();
  k_.attention(ap, pool);
}

void DeepSeek2Model::Attention(const MlaWeights& w, int64_t layer, std::span<const SeqBatch> batch,
                               ThreadPool* pool) {
  const int64_t H = ds_.base.n_head, dn = ds_.qk_nope_dim, rkv = ds_.kv_lora_rank;
  Projections(w, pool);
  StoreKv(layer, batch);
  if (w.has_indexer) StoreIndexerKeys(layer, batch);
  AttendAbsorbed(w, layer, batch, pool);
  bool wuk_ready = false;
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    if (Expanded(b)) {
      if (!wuk_ready) {  // W_UK[h] = Kb_h^T as f32 [H, d_nope, r_kv], once per layer and step
        b_.wuk_t.resize(H * dn * rkv);
        std::vector<float> tmp(dn);
        const int64_t rb = RowBytes(w.wk_b.type, dn);
        for (int64_t hc = 0; hc < H * rkv; ++hc) {
          k_.dequantize_row(w.wk_b.type, static_cast<const uint8_t*>(w.wk_b.data) + hc * rb,
                            tmp.data(), dn);
          const int64_t h = hc / rkv, c = hc % rkv;
          for (int64_t d = 0; d < dn; ++d) b_.wuk_t[(h * dn + d) * rkv + c] = tmp[d];
        }
        wuk_ready = true;
      }
      AttendExpanded(w, layer, b, row, pool);
    }
    row += b.n_tokens;
  }
  MatMul(w.wo, b_.att.data(), n_tok_cur_, b_.x.data(), /*acc=*/true, pool);
}

void DeepSeek2Model::Ffn(const LayerWeights& lw, ThreadPool* pool) {
  const HParams& hp = ds_.base;
  const int64_t T = n_tok_cur_;
  k_.rms_norm(b_.x.data(), hp.n_embd, lw.ffn_norm.data, b_.h.data(), hp.n_embd, T, hp.n_embd,
              hp.norm_eps);
  if (!lw.dense) {
    moe_.Run(lw.moe, b_.h.data(), T, b_.x.data(), k_, pool);
    return;
  }
  MatMul(lw.gate, b_.h.data(), T, b_.gate.data(), false, pool);
  MatMul(lw.up, b_.h.data(), T, b_.up.data(), false, pool);
  k_.swiglu(b_.gate.data(), b_.up.data(), b_.gate.data(), T * hp.n_ff);
  MatMul(lw.down, b_.gate.data(), T, b_.x.data(), /*acc=*/true, pool);
}

void DeepSeek2Model::Logits(std::span<const SeqBatch> batch, int64_t n_out, const VecF32& norm,
                            ThreadPool* pool) {
  const int64_t d = hparams_.n_embd;
  int64_t row = 0, out = 0;
  for (const SeqBatch& b : batch) {
    const int64_t first = b.all_logits ? 0 : b.n_tokens - 1;
    for (int64_t t = first; t < b.n_tokens; ++t, ++out) {
      k_.rms_norm(b_.x.data() + (row + t) * d, d, norm.data, b_.h.data() + out * d, d, 1, d,
                  hparams_.norm_eps);
    }
    row += b.n_tokens;
  }
  MatMul(output_, b_.h.data(), n_out, b_.logits.data(), false, pool);
}

Result<const float*> DeepSeek2Model::Forward(std::span<const SeqBatch> batch, ThreadPool* pool) {
  int64_t n_tok = 0, n_out = 0;
  CACHET_RETURN_IF_ERROR(CheckBatch(batch, &n_tok, &n_out));
  Resize(n_tok, n_out);
  n_tok_cur_ = n_tok;
  Embed(batch);
  for (int64_t l = 0; l < hparams_.n_layer; ++l) {
    Attention(layers_[l].attn, l, batch, pool);
    Ffn(layers_[l], pool);
  }
  Logits(batch, n_out, output_norm_, pool);
  return static_cast<const float*>(b_.logits.data());
}

// Token embeddings into b_.x and positions into b_.pos.
void DeepSeek2Model::Embed(std::span<const SeqBatch> batch) {
  const int64_t d = hparams_.n_embd;
  const int64_t row_bytes = RowBytes(tok_embd_.type, d);
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      b_.pos[row] = static_cast<int32_t>(b.start_pos + t);
      const auto* src = static_cast<const uint8_t*>(tok_embd_.data) + b.tokens[t] * row_bytes;
      k_.dequantize_row(tok_embd_.type, src, b_.x.data() + row * d, d);
    }
  }
}

// A.9: u = W_eh [RMSNorm_enorm(embed(tok)) ; RMSNorm_hnorm(h_prev)], then one MLA + MoE layer
// on the MTP block's own cache, then the shared head.
Result<const float*> DeepSeek2Model::ForwardMtp(const SeqBatch& b, const float* h_prev,
                                                ThreadPool* pool) {
  if (mtp_.empty()) return Unsupported("deepseek2: the file has no MTP block");
  if (h_prev == nullptr) return InvalidArgument("ForwardMtp: h_prev is null");
  std::span<const SeqBatch> batch(&b, 1);
  int64_t n_tok = 0, n_out = 0;
  CACHET_RETURN_IF_ERROR(CheckBatch(batch, &n_tok, &n_out));
  const int64_t d = hparams_.n_embd;
  b_.hprev.assign(h_prev, h_prev + n_tok * d);  // h_prev may point into b_.h (last_hidden)
  Resize(n_tok, n_out);
  n_tok_cur_ = n_tok;
  const MtpWeights& mw = mtp_[0];
  Embed(batch);
  b_.eh.resize(n_tok * 2 * d);
  k_.rms_norm(b_.x.data(), d, mw.enorm.data, b_.eh.data(), 2 * d, n_tok, d, hparams_.norm_eps);
  k_.rms_norm(b_.hprev.data(), d, mw.hnorm.data, b_.eh.data() + d, 2 * d, n_tok, d,
              hparams_.norm_eps);
  MatMul(mw.eh_proj, b_.eh.data(), n_tok, b_.x.data(), false, pool);
  Attention(mw.layer.attn, 0, batch, pool);
  Ffn(mw.layer, pool);
  Logits(batch, n_out, mw.shared_head_norm.present() ? mw.shared_head_norm : output_norm_, pool);
  return static_cast<const float*>(b_.logits.data());
}

}  // namespace

Result<std::unique_ptr<Model>> LoadDeepSeek2(std::shared_ptr<const ModelFile> file,
                                             const DeepSeek2Options& options) {
  const std::string arch = file->GetString("general.architecture").value_or("deepseek2");
  if (arch != "deepseek2" && arch != "deepseek32") {
    return Unsupported("LoadDeepSeek2: architecture '" + arch + "'");
  }
  CACHET_ASSIGN_OR_RETURN(DeepSeekHParams ds, ReadDeepSeekHParams(*file, arch));
  auto m = std::make_unique<DeepSeek2Model>(std::move(ds), options, std::move(file));
  CACHET_RETURN_IF_ERROR(m->LoadWeights());
  return std::unique_ptr<Model>(std::move(m));
}

namespace arch {

// Files load with the absorbed path everywhere: the path must not depend on how a prompt is
// cut into chunks, or a request's tokens would depend on its batch and on cache hits (the two
// paths round differently). CACHET_MLA_PATH=auto (expanded for long fresh chunks: faster long
// prefill, not batch-invariant) or =expanded pins another choice (benchmarks, numerics runs).
void RegisterDeepSeek2(std::vector<ArchEntry>* out) {
  auto load = [](std::shared_ptr<const ModelFile> f) {
    DeepSeek2Options o;
    o.mla_path = MlaPath::kAbsorbed;
    if (const char* e = std::getenv("CACHET_MLA_PATH"); e != nullptr) {
      const std::string v = e;
      if (v == "auto") o.mla_path = MlaPath::kAuto;
      if (v == "expanded") o.mla_path = MlaPath::kExpanded;
    }
    return LoadDeepSeek2(std::move(f), o);
  };
  out->push_back({"deepseek2", load});
  out->push_back({"deepseek32", load});  // Part B: deepseek2 + the lightning indexer
}

}  // namespace arch
}  // namespace cachet::model
