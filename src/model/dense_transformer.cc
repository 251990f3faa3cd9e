#include "model/dense_transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/log.h"
#include "model/weights.h"

namespace cachet::model {
namespace {

struct LayerWeights {
  VecF32 attn_norm, ffn_norm, q_norm, k_norm, bq, bk, bv, bo;
  Weight wq, wk, wv, wo, gate, up, down;
};

std::string Blk(int64_t i, const char* name) { return "blk." + std::to_string(i) + "." + name; }

class DenseModel final : public Model {
 public:
  DenseModel(DenseArchTraits traits, std::shared_ptr<const ModelFile> file, HParams hp)
      : Model(std::move(file), std::move(hp)), traits_(std::move(traits)), k_(kernels::Kernels()) {}

  Status LoadWeights();
  KvLayout kv_layout() const override;
  Result<const float*> Forward(std::span<const SeqBatch> batch, ThreadPool* pool) override;

 private:
  Status LoadLayer(WeightLoader& wl, int64_t i, LayerWeights* lw);
  void PackWeights();
  Status CheckBatch(std::span<const SeqBatch> batch, int64_t* n_tok, int64_t* n_out) const;
  void Resize(int64_t n_tok, int64_t n_out);
  void MatMul(const Weight& w, const float* x, int64_t m, float* y, bool acc, ThreadPool* pool);
  void AddBias(const VecF32& b, float* y, int64_t m);
  void Attention(const LayerWeights& lw, int64_t layer, std::span<const SeqBatch> batch,
                 ThreadPool* pool);
  void StoreKv(int64_t layer, std::span<const SeqBatch> batch);
  void Ffn(const LayerWeights& lw, ThreadPool* pool);
  void Logits(std::span<const SeqBatch> batch, int64_t n_out, ThreadPool* pool);

  DenseArchTraits traits_;
  const kernels::KernelTable& k_;
  std::vector<LayerWeights> layers_;
  Weight tok_embd_, output_;
  VecF32 output_norm_, output_bias_, rope_freqs_;
  std::vector<float> inv_freq_;
  float mscale_ = 1.0f;
  std::vector<std::vector<float>> owned_;
  kernels::PackedArena packed_;  // the matrices in the kernel table's packed layout
  KvLayout kv_;

  // Activation buffers, grown to the largest step seen and reused (no per-token allocation).
  int64_t n_tok_ = 0;      // capacity of the buffers in tokens
  int64_t n_tok_cur_ = 0;  // tokens of the current step
  std::vector<float> x_, h_, q_, kc_, vc_, att_, gate_, up_, logits_;
  std::vector<int32_t> pos_;
};

Status DenseModel::LoadLayer(WeightLoader& wl, int64_t i, LayerWeights* lw) {
  const HParams& hp = hparams_;
  const int64_t d = hp.n_embd;
  CACHET_ASSIGN_OR_RETURN(lw->attn_norm, wl.Vector(Blk(i, "attn_norm.weight"), d));
  CACHET_ASSIGN_OR_RETURN(lw->ffn_norm, wl.Vector(Blk(i, "ffn_norm.weight"), d));
  if (file_->FindTensor(Blk(i, "attn_qkv.weight")) != nullptr) {
    return Unsupported("tensor " + Blk(i, "attn_qkv.weight") + ": fused QKV is not supported");
  }
  CACHET_ASSIGN_OR_RETURN(lw->wq, wl.Matrix(Blk(i, "attn_q.weight"), d, hp.q_dim()));
  CACHET_ASSIGN_OR_RETURN(lw->wk, wl.Matrix(Blk(i, "attn_k.weight"), d, hp.kv_dim()));
  CACHET_ASSIGN_OR_RETURN(lw->wv, wl.Matrix(Blk(i, "attn_v.weight"), d, hp.v_dim()));
  CACHET_ASSIGN_OR_RETURN(lw->wo, wl.Matrix(Blk(i, "attn_output.weight"), hp.q_dim(), d));
  const bool breq = traits_.qkv_bias_required;
  CACHET_ASSIGN_OR_RETURN(lw->bq, wl.Vector(Blk(i, "attn_q.bias"), hp.q_dim(), breq));
  CACHET_ASSIGN_OR_RETURN(lw->bk, wl.Vector(Blk(i, "attn_k.bias"), hp.kv_dim(), breq));
  CACHET_ASSIGN_OR_RETURN(lw->bv, wl.Vector(Blk(i, "attn_v.bias"), hp.v_dim(), breq));
  CACHET_ASSIGN_OR_RETURN(lw->bo, wl.Vector(Blk(i, "attn_output.bias"), d, false));
  if (traits_.qk_norm) {
    CACHET_ASSIGN_OR_RETURN(lw->q_norm, wl.Vector(Blk(i, "attn_q_norm.weight"), hp.head_dim));
    CACHET_ASSIGN_OR_RETURN(lw->k_norm, wl.Vector(Blk(i, "attn_k_norm.weight"), hp.head_dim));
  }
  CACHET_ASSIGN_OR_RETURN(lw->gate, wl.Matrix(Blk(i, "ffn_gate.weight"), d, hp.n_ff));
  CACHET_ASSIGN_OR_RETURN(lw->up, wl.Matrix(Blk(i, "ffn_up.weight"), d, hp.n_ff));
  CACHET_ASSIGN_OR_RETURN(lw->down, wl.Matrix(Blk(i, "ffn_down.weight"), hp.n_ff, d));
  return Status::Ok();
}

Status DenseModel::LoadWeights() {
  HParams& hp = hparams_;
  const TensorInfo* emb = file_->FindTensor("token_embd.weight");
  if (emb == nullptr) return Corrupt("missing tensor token_embd.weight");
  if (hp.n_vocab == 0) hp.n_vocab = emb->ne[1];
  WeightLoader wl(*file_);
  CACHET_ASSIGN_OR_RETURN(tok_embd_, wl.Matrix("token_embd.weight", hp.n_embd, hp.n_vocab));
  CACHET_ASSIGN_OR_RETURN(output_norm_, wl.Vector("output_norm.weight", hp.n_embd));
  CACHET_ASSIGN_OR_RETURN(output_, wl.Matrix("output.weight", hp.n_embd, hp.n_vocab, false));
  if (!output_.present()) output_ = tok_embd_;  // tied embeddings (llama-family.md §6.4)
  CACHET_ASSIGN_OR_RETURN(output_bias_, wl.Vector("output.bias", hp.n_vocab, false));
  CACHET_ASSIGN_OR_RETURN(rope_freqs_, wl.Vector("rope_freqs.weight", hp.n_rot / 2, false));
  layers_.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) CACHET_RETURN_IF_ERROR(LoadLayer(wl, i, &layers_[i]));
  for (const auto& name : wl.Unused()) LOG_WARN << "unused tensor " << name;
  owned_ = wl.TakeOwned();
  PackWeights();
  inv_freq_ = RopeInvFreq(hp, rope_freqs_.data, &mscale_);
  kv_.n_layer = hp.n_layer;
  kv_.n_kv_heads = hp.n_head_kv;
  kv_.head_dim_k = hp.head_dim;
  kv_.head_dim_v = hp.head_dim_v;
  kv_.type = DType::kF16;
  return Status::Ok();
}

// Every matrix into the kernel table's packed layout where it has one (kernels/packed_arena.h);
// the token embedding rows keep being read from the file. Unpacked weights still work, so a
// failure only costs speed.
void DenseModel::PackWeights() {
  std::vector<Weight*> ws;
  for (LayerWeights& lw : layers_) {
    for (Weight* w : {&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.gate, &lw.up, &lw.down}) ws.push_back(w);
  }
  ws.push_back(&output_);
  PackMatrices(k_, *file_, ws, &packed_);
}

KvLayout DenseModel::kv_layout() const { return kv_; }

Status DenseModel::CheckBatch(std::span<const SeqBatch> batch, int64_t* n_tok,
                              int64_t* n_out) const {
  return CheckSeqBatches(batch, kv_, hparams_.n_vocab, n_tok, n_out);
}

void DenseModel::Resize(int64_t n_tok, int64_t n_out) {
  const HParams& hp = hparams_;
  if (n_tok > n_tok_) {
    n_tok_ = n_tok;
    x_.resize(n_tok * hp.n_embd);
    h_.resize(n_tok * std::max(hp.n_embd, hp.q_dim()));
    q_.resize(n_tok * hp.q_dim());
    kc_.resize(n_tok * hp.kv_dim());
    vc_.resize(n_tok * hp.v_dim());
    att_.resize(n_tok * hp.n_head * hp.head_dim_v);
    gate_.resize(n_tok * hp.n_ff);
    up_.resize(n_tok * hp.n_ff);
    pos_.resize(n_tok);
  }
  if (static_cast<int64_t>(logits_.size()) < n_out * hp.n_vocab) logits_.resize(n_out * hp.n_vocab);
}

void DenseModel::MatMul(const Weight& w, const float* x, int64_t m, float* y, bool acc,
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

void DenseModel::AddBias(const VecF32& b, float* y, int64_t m) {
  if (!b.present()) return;
  for (int64_t t = 0; t < m; ++t) k_.add(y + t * b.n, b.data, b.n);
}

void DenseModel::StoreKv(int64_t layer, std::span<const SeqBatch> batch) {
  // Blocks are head-major, [n_kv_heads, block_tokens, head_dim] (kv_storage.h): one head's
  // rows are contiguous, which the attention kernels read as one stream per head.
  const int64_t kd = kv_.k_dim(), vd = kv_.v_dim(), bt = kv_.block_tokens;
  const int64_t nh = hparams_.n_head_kv, hk = kd / nh, hv = vd / nh;
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      const int64_t p = b.start_pos + t;
      auto* kblk = static_cast<f16_t*>(b.k_blocks[layer * b.n_blocks + p / bt]);
      auto* vblk = static_cast<f16_t*>(b.v_blocks[layer * b.n_blocks + p / bt]);
      const float* ks = kc_.data() + row * kd;
      const float* vs = vc_.data() + row * vd;
      for (int64_t h = 0; h < nh; ++h) {
        f16_t* kdst = kblk + (h * bt + p % bt) * hk;
        f16_t* vdst = vblk + (h * bt + p % bt) * hv;
        for (int64_t i = 0; i < hk; ++i) kdst[i] = F32ToF16(ks[h * hk + i]);
        for (int64_t i = 0; i < hv; ++i) vdst[i] = F32ToF16(vs[h * hv + i]);
      }
    }
  }
}

void DenseModel::Attention(const LayerWeights& lw, int64_t layer, std::span<const SeqBatch> batch,
                           ThreadPool* pool) {
  const HParams& hp = hparams_;
  const int64_t T = n_tok_cur_;
  k_.rms_norm(x_.data(), hp.n_embd, lw.attn_norm.data, h_.data(), hp.n_embd, T, hp.n_embd,
              hp.norm_eps);
  MatMul(lw.wq, h_.data(), T, q_.data(), false, pool);
  MatMul(lw.wk, h_.data(), T, kc_.data(), false, pool);
  MatMul(lw.wv, h_.data(), T, vc_.data(), false, pool);
  AddBias(lw.bq, q_.data(), T);
  AddBias(lw.bk, kc_.data(), T);
  AddBias(lw.bv, vc_.data(), T);
  if (traits_.qk_norm) {  // per head, before RoPE; rows of head_dim are contiguous
    k_.rms_norm(q_.data(), hp.head_dim, lw.q_norm.data, q_.data(), hp.head_dim, T * hp.n_head,
                hp.head_dim, hp.norm_eps);
    k_.rms_norm(kc_.data(), hp.head_dim, lw.k_norm.data, kc_.data(), hp.head_dim, T * hp.n_head_kv,
                hp.head_dim, hp.norm_eps);
  }
  kernels::RopeParams rp;
  rp.pos = pos_.data();
  rp.inv_freq = inv_freq_.data();
  rp.n_tokens = T;
  rp.head_dim = hp.head_dim;
  rp.n_rot = hp.n_rot;
  rp.mscale = mscale_;
  rp.mode = traits_.rope_mode;
  rp.x = q_.data();
  rp.n_heads = hp.n_head;
  rp.row_stride = hp.q_dim();
  k_.rope(rp);
  rp.x = kc_.data();
  rp.n_heads = hp.n_head_kv;
  rp.row_stride = hp.kv_dim();
  k_.rope(rp);
  StoreKv(layer, batch);
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    kernels::AttentionParams ap;
    ap.q = q_.data() + row * hp.q_dim();
    ap.out = att_.data() + row * hp.n_head * hp.head_dim_v;
    ap.q_pos = pos_.data() + row;
    ap.k_blocks = const_cast<const void* const*>(b.k_blocks + layer * b.n_blocks);
    ap.v_blocks = const_cast<const void* const*>(b.v_blocks + layer * b.n_blocks);
    ap.kv_type = kv_.type;
    ap.n_q = b.n_tokens;
    ap.n_kv = b.start_pos + b.n_tokens;
    ap.block_tokens = kv_.block_tokens;
    ap.head_major = true;
    ap.n_heads = hp.n_head;
    ap.n_kv_heads = hp.n_head_kv;
    ap.head_dim = hp.head_dim;
    ap.head_dim_v = hp.head_dim_v;
    ap.q_stride = hp.q_dim();
    ap.out_stride = hp.n_head * hp.head_dim_v;
    ap.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    k_.attention(ap, pool);
    row += b.n_tokens;
  }
  MatMul(lw.wo, att_.data(), T, x_.data(), /*acc=*/true, pool);  // residual add for free
  AddBias(lw.bo, x_.data(), T);
}

void DenseModel::Ffn(const LayerWeights& lw, ThreadPool* pool) {
  const HParams& hp = hparams_;
  const int64_t T = n_tok_cur_;
  k_.rms_norm(x_.data(), hp.n_embd, lw.ffn_norm.data, h_.data(), hp.n_embd, T, hp.n_embd,
              hp.norm_eps);
  MatMul(lw.gate, h_.data(), T, gate_.data(), false, pool);
  MatMul(lw.up, h_.data(), T, up_.data(), false, pool);
  k_.swiglu(gate_.data(), up_.data(), gate_.data(), T * hp.n_ff);
  MatMul(lw.down, gate_.data(), T, x_.data(), /*acc=*/true, pool);
}

void DenseModel::Logits(std::span<const SeqBatch> batch, int64_t n_out, ThreadPool* pool) {
  const HParams& hp = hparams_;
  const int64_t d = hp.n_embd;
  int64_t row = 0, out = 0;
  for (const SeqBatch& b : batch) {
    const int64_t first = b.all_logits ? 0 : b.n_tokens - 1;
    for (int64_t t = first; t < b.n_tokens; ++t, ++out) {
      k_.rms_norm(x_.data() + (row + t) * d, d, output_norm_.data, h_.data() + out * d, d, 1, d,
                  hp.norm_eps);
    }
    row += b.n_tokens;
  }
  MatMul(output_, h_.data(), n_out, logits_.data(), false, pool);
  AddBias(output_bias_, logits_.data(), n_out);
}

Result<const float*> DenseModel::Forward(std::span<const SeqBatch> batch, ThreadPool* pool) {
  int64_t n_tok = 0, n_out = 0;
  CACHET_RETURN_IF_ERROR(CheckBatch(batch, &n_tok, &n_out));
  Resize(n_tok, n_out);
  n_tok_cur_ = n_tok;
  const int64_t d = hparams_.n_embd;
  const int64_t row_bytes = RowBytes(tok_embd_.type, d);
  int64_t row = 0;
  for (const SeqBatch& b : batch) {
    for (int64_t t = 0; t < b.n_tokens; ++t, ++row) {
      pos_[row] = static_cast<int32_t>(b.start_pos + t);
      const auto* src = static_cast<const uint8_t*>(tok_embd_.data) + b.tokens[t] * row_bytes;
      k_.dequantize_row(tok_embd_.type, src, x_.data() + row * d, d);
    }
  }
  for (int64_t l = 0; l < hparams_.n_layer; ++l) {
    Attention(layers_[l], l, batch, pool);
    Ffn(layers_[l], pool);
  }
  Logits(batch, n_out, pool);
  return static_cast<const float*>(logits_.data());
}

}  // namespace

Result<std::unique_ptr<Model>> LoadDenseTransformer(const DenseArchTraits& traits,
                                                    std::shared_ptr<const ModelFile> file) {
  CACHET_ASSIGN_OR_RETURN(HParams hp, ReadHParams(*file, traits.name));
  auto m = std::make_unique<DenseModel>(traits, std::move(file), std::move(hp));
  CACHET_RETURN_IF_ERROR(m->LoadWeights());
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace cachet::model
