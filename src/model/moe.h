// DeepSeekMoE feed-forward (../shared/specs/deepseek.md A.7): the router (softmax or sigmoid
// scores, selection bias, group-limited top-k, normalisation, routed scaling) and the expert
// execution of one step.
//
// Execution groups the tokens of a step by expert: each chosen expert's three matrices are read
// once per step however many tokens chose it, and experts no token chose are not touched.
//
// Thread-safety: RouteToken is a pure function. MoeFfn keeps scratch buffers: one Run() at a
// time per object; the kernels split each matmul over the pool.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace cachet::model {

struct RouterConfig {
  int64_t n_expert = 0;      // E
  int64_t n_used = 0;        // k (<= E)
  int64_t n_group = 1;       // groups of E / n_group consecutive experts (1 = no grouping)
  int64_t n_group_used = 1;  // groups kept
  ExpertGating gating = ExpertGating::kSoftmax;
  bool weights_norm = false;
  float weights_scale = 1.0f;
  const float* bias = nullptr;  // [E] selection bias (exp_probs_b) or nullptr
};

// Routes one token: `logits` [E] are the router outputs; writes the k chosen expert ids to
// `ids` [k] (highest biased score first, ties to the lower id) and their weights to `weights`
// [k] (unbiased scores, normalised if configured, times weights_scale). Group score: sum of the
// two largest biased scores of the group when a bias is given, else the group maximum (the
// reference semantics, deepseek.md A.7 note). `scratch` needs 2*E floats. With `forced` [k]
// (deepseek4 hash routing, C.9) the ids are taken from it (no bias, no groups; ids must be
// < E) and weighted the same way.
void RouteToken(const RouterConfig& c, const float* logits, int32_t* ids, float* weights,
                float* scratch, const int32_t* forced = nullptr);

struct MoeWeights {
  Weight router;                // ffn_gate_inp [d, E]
  VecF32 bias;                  // exp_probs_b [E], optional
  Weight gate_exps, up_exps;    // [d, f, E]: E*f rows of d
  Weight down_exps;             // [f, d, E]: E*d rows of f
  Weight gate_shexp, up_shexp;  // [d, f*E_sh] (absent when E_sh = 0)
  Weight down_shexp;            // [f*E_sh, d]
  // deepseek4 (C.9): hash routing table ffn_gate_tid2eid ([V, k] expert ids per token id;
  // nullptr = routed by score) and SwiGLU clamps (0 = none).
  const int32_t* tid2eid = nullptr;
  int64_t tid2eid_vocab = 0;
  float clamp_exp = 0.0f, clamp_shexp = 0.0f;
};

// out = silu(min(gate, l)) * clamp(up, -l, l) for l > 0 (the clamp comes BEFORE the
// activation), else silu(gate) * up. Written to `gate`.
void ClampedSwiglu(const kernels::KernelTable& k, float* gate, float* up, int64_t n, float l);

class MoeFfn {
 public:
  MoeFfn(RouterConfig config, int64_t n_embd, int64_t n_ff_exp)
      : c_(config), d_(n_embd), f_(n_ff_exp) {}

  // x [T, d] += MoE(h) for h [T, d] (already ffn-normed). The selection bias is w.bias (the
  // config's bias is ignored here: it differs per layer). `tokens` [T] (the step's token ids)
  // is used only with w.tid2eid; token ids outside [0, tid2eid_vocab), and table rows holding
  // an expert id outside [0, E), are routed by score.
  void Run(const MoeWeights& w, const float* h, int64_t T, float* x, const kernels::KernelTable& k,
           ThreadPool* pool, const int32_t* tokens = nullptr);

  // Expert ids chosen by the last Run(): [T, k] (tests check grouping and selection).
  const std::vector<int32_t>& last_ids() const { return ids_; }

 private:
  // Up to this many (token, expert) slots per step, whole experts run in parallel.
  static constexpr int64_t kExpertParallelSlots = 64;
  struct Rows {  // one expert's rows in the scratch buffers
    float *x, *gate, *up, *y;
  };
  void RunExpert(const MoeWeights& w, int64_t e, int64_t n_rows, const Rows& r,
                 const kernels::KernelTable& k, ThreadPool* pool);
  void RunExperts(const MoeWeights& w, const float* h, int64_t T, float* x,
                  const kernels::KernelTable& k, ThreadPool* pool);

  RouterConfig c_;
  int64_t d_, f_;
  std::vector<float> logits_, weights_, scratch_, xe_, gate_, up_, ye_;
  std::vector<int32_t> ids_, order_, count_;
};

}  // namespace cachet::model
