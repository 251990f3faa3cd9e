// `deepseek4` (DeepSeek-V4): ../shared/specs/deepseek.md Part C. mHC residual streams (hc
// copies of the hidden state mixed around each sub-layer), one shared K = V head attended over
// a sliding window plus compressed entries (CSA: ratio-4 overlapping pooling with a lightning
// indexer top-k; HCA: ratio-128 pooling, all entries), attention sinks, grouped low-rank
// output, MoE with sqrt-softplus scores, hash routing on the first layers, clamped SwiGLU.
//
// The cache (Ds4Cache, model/ds4_cache.h) has two forms. StatefulModel::ForwardState: one
// object per sequence holds everything. Model::Forward (the paged contract): the compressed
// entries live in the pool blocks (kv_layout(): one row per block with every compressed
// layer's entries) and SeqBatch::state (from NewPagedState) holds the window rings and the
// compressor state; a SeqBatch without it is InvalidArgument. MTP blocks in the file are not
// run (their tensors are left unused).
#pragma once

#include <memory>

#include "model/model.h"
#include "model/sequence_state.h"
#include "tensor/dtype.h"

namespace cachet::model {

struct DeepSeek4Options {
  DType cache_type = DType::kF16;  // raw window and compressed entries: f16 or f32
};

// Reads hparams (ReadDeepSeek4HParams), validates every tensor of the trunk (errors name it),
// and builds the model. Errors: those of ReadDeepSeek4HParams; Corrupt for a missing or
// misshapen tensor or an F32-only tensor (hc_*, ape, tid2eid as I32) stored in another type;
// Unsupported for an MTP-only file (no trunk tensors, C.12) or a cache type other than f16/f32.
Result<std::unique_ptr<Model>> LoadDeepSeek4(std::shared_ptr<const ModelFile> file,
                                             const DeepSeek4Options& options = {});

}  // namespace cachet::model
