// sched::Request: the scheduler's view of one sequence — token counters and its block table.
//
// num_tokens() is every token the sequence has (prompt + generated so far); num_computed_tokens
// of them have their K/V in the sequence's blocks. The next step computes tokens
// [num_computed_tokens, num_computed_tokens + n) for some n the scheduler picks; when a step
// reaches num_tokens() the engine samples one more token and appends it (Scheduler::Update).
// Positions p live in blocks[p / block_tokens]. The first num_cached_tokens positions came from
// the prefix cache (shared blocks, never written).
//
// Thread-safety: none; owned by the Scheduler on the engine thread.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/block_pool.h"

namespace cachet::sched {

using RequestId = int64_t;

enum class RequestState {
  kWaiting,  // in the waiting queue (new, or preempted and re-queued)
  kRunning,  // holds blocks; scheduled every step while budget allows
};

struct Request {
  RequestId id = 0;
  std::vector<int32_t> tokens;  // prompt + generated so far
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;
  // Prompt tokens served from the prefix cache at the latest admission (multiple of the block
  // size); num_cached_tokens_first is the value at the first admission (what usage reports).
  int64_t num_cached_tokens = 0;
  int64_t num_cached_tokens_first = -1;  // -1: never admitted
  int64_t num_preemptions = 0;
  std::vector<kv::BlockId> blocks;  // one reference held per entry
  // Blocks [0, num_blocks_reported) were handed to KvCacheHooks::OnBlockFilled (or came from the
  // cache); they are full and never written again.
  int64_t num_blocks_reported = 0;
  RequestState state = RequestState::kWaiting;

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  bool ever_admitted() const { return num_cached_tokens_first >= 0; }
};

}  // namespace cachet::sched
