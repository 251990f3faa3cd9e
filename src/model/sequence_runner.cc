#include "model/sequence_runner.h"

namespace cachet::model {

Result<std::unique_ptr<SequenceState>> NewPagedSequenceState(Model& m) {
  auto* sm = dynamic_cast<StatefulModel*>(&m);
  if (sm == nullptr) return std::unique_ptr<SequenceState>();
  return sm->NewPagedState();
}

Result<std::unique_ptr<SequenceRunner>> SequenceRunner::Create(Model& m) {
  std::unique_ptr<SequenceRunner> r(new SequenceRunner(m));
  r->stateful_ = dynamic_cast<StatefulModel*>(&m);
  if (r->stateful_ != nullptr) {
    CACHET_ASSIGN_OR_RETURN(r->state_, r->stateful_->NewState());
  }
  return r;
}

int64_t SequenceRunner::n_tokens() const {
  return state_ != nullptr ? state_->n_tokens() : kv_.n_tokens();
}

Result<const float*> SequenceRunner::Feed(const int32_t* ids, int64_t n, bool all_logits,
                                          ThreadPool* pool) {
  if (stateful_ != nullptr) {
    StateBatch b{state_.get(), ids, n, all_logits};
    return stateful_->ForwardState(std::span<const StateBatch>(&b, 1), pool);
  }
  const int64_t start = kv_.n_tokens();
  CACHET_RETURN_IF_ERROR(kv_.Reserve(start + n));
  SeqBatch b = MakeSeqBatch(kv_, ids, n, start, all_logits);
  CACHET_ASSIGN_OR_RETURN(const float* logits, m_.Forward(std::span<const SeqBatch>(&b, 1), pool));
  kv_.set_n_tokens(start + n);
  return logits;
}

}  // namespace cachet::model
