#include "model/speculative.h"

#include <algorithm>

#include "model/arch/deepseek2.h"

namespace cachet::model {

int32_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Result<std::vector<int32_t>> GreedyDecode(Model& m, std::span<const int32_t> prompt, int64_t n_new,
                                          ThreadPool* pool) {
  if (prompt.empty()) return InvalidArgument("GreedyDecode: empty prompt");
  const int64_t V = m.hparams().n_vocab;
  SequenceKv kv(m.kv_layout());
  CACHET_RETURN_IF_ERROR(kv.Reserve(static_cast<int64_t>(prompt.size()) + n_new));
  SeqBatch b = MakeSeqBatch(kv, prompt.data(), prompt.size(), 0);
  CACHET_ASSIGN_OR_RETURN(const float* logits, m.Forward({&b, 1}, pool));
  std::vector<int32_t> out;
  int64_t pos = static_cast<int64_t>(prompt.size());
  while (static_cast<int64_t>(out.size()) < n_new) {
    out.push_back(ArgMax(logits, V));
    if (static_cast<int64_t>(out.size()) == n_new) break;
    SeqBatch d = MakeSeqBatch(kv, &out.back(), 1, pos++);
    CACHET_ASSIGN_OR_RETURN(logits, m.Forward({&d, 1}, pool));
  }
  return out;
}

Result<std::unique_ptr<MtpSpeculator>> MtpSpeculator::Create(Model* m, SpecOptions options) {
  auto* mtp = dynamic_cast<MtpSource*>(m);
  if (mtp == nullptr || mtp->mtp_blocks() < 1) {
    return Unsupported("speculative decoding: the model has no MTP block");
  }
  if (options.draft_tokens < 1) return InvalidArgument("draft_tokens must be >= 1");
  return std::unique_ptr<MtpSpeculator>(new MtpSpeculator(m, mtp, std::move(options)));
}

MtpSpeculator::MtpSpeculator(Model* m, MtpSource* mtp, SpecOptions o)
    : m_(m), mtp_(mtp), opt_(std::move(o)) {
  d_ = m->hparams().n_embd;
  n_vocab_ = m->hparams().n_vocab;
}

// One MTP step over `toks` at positions pos0.. with h_prev [n, d]; keeps the last row's draft
// (for position pos0 + n) and hidden state.
Status MtpSpeculator::Refresh(std::span<const int32_t> toks, int64_t pos0, const float* h_prev,
                              ThreadPool* pool) {
  SeqBatch b = MakeSeqBatch(*mtp_kv_, toks.data(), toks.size(), pos0);
  CACHET_ASSIGN_OR_RETURN(const float* logits, mtp_->ForwardMtp(b, h_prev, pool));
  const int64_t pos = pos0 + static_cast<int64_t>(toks.size());
  first_draft_ = ArgMax(logits, n_vocab_);
  if (opt_.draft_hook) first_draft_ = opt_.draft_hook(pos, first_draft_);
  h_mtp_.assign(mtp_->last_hidden(), mtp_->last_hidden() + d_);
  return Status::Ok();
}

// d_1 is known; chains k-1 more MTP steps. `pos` = position of `next` (d_1 is for pos + 1).
Status MtpSpeculator::Draft(int64_t pos, ThreadPool* pool) {
  drafts_.assign(1, first_draft_);
  for (int64_t i = 1; i < opt_.draft_tokens; ++i) {
    const int32_t tok = drafts_.back();
    std::vector<float> h = h_mtp_;
    CACHET_RETURN_IF_ERROR(Refresh({&tok, 1}, pos + i, h.data(), pool));
    drafts_.push_back(first_draft_);
  }
  return Status::Ok();
}

Result<std::vector<int32_t>> MtpSpeculator::Generate(std::span<const int32_t> prompt, int64_t n_new,
                                                     ThreadPool* pool) {
  if (prompt.empty()) return InvalidArgument("speculative decoding: empty prompt");
  const int64_t P = static_cast<int64_t>(prompt.size()), k = opt_.draft_tokens;
  kv_ = std::make_unique<SequenceKv>(m_->kv_layout());
  mtp_kv_ = std::make_unique<SequenceKv>(mtp_->mtp_kv_layout());
  CACHET_RETURN_IF_ERROR(kv_->Reserve(P + n_new + k + 1));
  CACHET_RETURN_IF_ERROR(mtp_kv_->Reserve(P + n_new + k + 1));
  stats_ = SpecStats();
  // Trunk prefill with every hidden state (the MTP cache needs all of them).
  SeqBatch pre = MakeSeqBatch(*kv_, prompt.data(), P, 0, /*all_logits=*/true);
  CACHET_ASSIGN_OR_RETURN(const float* logits, m_->Forward({&pre, 1}, pool));
  std::vector<int32_t> out = {ArgMax(logits + (P - 1) * n_vocab_, n_vocab_)};
  std::vector<float> hidden(mtp_->last_hidden(), mtp_->last_hidden() + P * d_);
  std::vector<int32_t> toks(prompt.begin() + 1, prompt.end());
  toks.push_back(out.back());
  CACHET_RETURN_IF_ERROR(Refresh(toks, 1, hidden.data(), pool));
  int64_t pos = P;  // position of out.back() ("next"), not yet in the trunk cache
  while (static_cast<int64_t>(out.size()) < n_new) {
    CACHET_RETURN_IF_ERROR(Draft(pos, pool));
    std::vector<int32_t> verify = {out.back()};
    verify.insert(verify.end(), drafts_.begin(), drafts_.end());
    SeqBatch vb = MakeSeqBatch(*kv_, verify.data(), k + 1, pos, /*all_logits=*/true);
    CACHET_ASSIGN_OR_RETURN(logits, m_->Forward({&vb, 1}, pool));
    int64_t j = 0;
    while (j < k && drafts_[j] == ArgMax(logits + j * n_vocab_, n_vocab_)) ++j;
    const int32_t next = ArgMax(logits + j * n_vocab_, n_vocab_);
    ++stats_.rounds;
    stats_.drafted += k;
    stats_.accepted += j;
    hidden.assign(mtp_->last_hidden(), mtp_->last_hidden() + (j + 1) * d_);
    toks.assign(drafts_.begin(), drafts_.begin() + j);
    toks.push_back(next);
    out.insert(out.end(), toks.begin(), toks.end());
    kv_->Truncate(pos + j + 1);
    if (static_cast<int64_t>(out.size()) >= n_new) break;
    CACHET_RETURN_IF_ERROR(Refresh(toks, pos + 1, hidden.data(), pool));
    pos += j + 1;
  }
  out.resize(n_new);
  return out;
}

}  // namespace cachet::model
