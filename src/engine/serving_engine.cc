#include "engine/serving_engine.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/log.h"
#include "model/sequence_runner.h"

namespace cachet::engine {
namespace {

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

kv::KvGeometry GeometryOf(const model::KvLayout& l) {
  return {.n_layer = l.n_layer, .k_bytes = l.k_block_bytes(), .v_bytes = l.v_block_bytes()};
}

Status ValidateSampling(const SamplingOptions& s) {
  if (!(s.temperature >= 0.0f) || !std::isfinite(s.temperature)) {
    return InvalidArgument("temperature must be a finite number >= 0");
  }
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) return InvalidArgument("top_p must be in (0, 1]");
  if (s.top_k < 0) return InvalidArgument("top_k must be >= 0");
  if (!(std::fabs(s.frequency_penalty) <= 2.0f)) {
    return InvalidArgument("frequency_penalty must be in [-2, 2]");
  }
  if (!(std::fabs(s.presence_penalty) <= 2.0f)) {
    return InvalidArgument("presence_penalty must be in [-2, 2]");
  }
  if (s.top_logprobs < 0 || s.top_logprobs > 20) {
    return InvalidArgument("top_logprobs must be in [0, 20]");
  }
  return Status::Ok();
}

}  // namespace

void ServingEngine::Inbox::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu);
    wake = true;
  }
  cv.notify_all();
}

Result<std::unique_ptr<ServingEngine>> ServingEngine::Create(std::shared_ptr<model::Model> model,
                                                             const EngineConfig& config) {
  if (model == nullptr) return InvalidArgument("CreateEngine: no model");
  if (config.max_batch_tokens <= 0 || config.max_running <= 0 || config.queue_capacity <= 0 ||
      config.threads <= 0) {
    return InvalidArgument(
        "CreateEngine: max_batch_tokens, max_running, queue_capacity and threads must be > 0");
  }
  const model::HParams& hp = model->hparams();
  if (hp.n_vocab <= 0) return InvalidArgument("CreateEngine: model has no vocabulary size");
  if (hp.n_ctx_train <= 0 && config.n_ctx <= 0) {
    return InvalidArgument("CreateEngine: model has no context size; set n_ctx");
  }
  const model::KvLayout layout = model->kv_layout();
  if (layout.block_tokens != model::kKvBlockTokens) {
    return InvalidArgument("CreateEngine: KV blocks must hold " +
                           std::to_string(model::kKvBlockTokens) + " tokens");
  }
  const kv::KvGeometry g = GeometryOf(layout);
  const int32_t n_blocks = kv::KvStorage::BlocksForBudget(g, config.kv_budget_bytes);
  if (n_blocks <= 0) {
    return InvalidArgument("CreateEngine: kv_budget_bytes " +
                           std::to_string(config.kv_budget_bytes) + " holds no KV block of " +
                           std::to_string(g.block_bytes()) + " bytes");
  }
  Parts parts;
  // A model that keeps per-sequence state beside its blocks (deepseek4) gets one per request;
  // its prefix blocks cannot be reused (the state at a block boundary is not in the blocks).
  auto probe = model::NewPagedSequenceState(*model);
  if (!probe.ok()) {
    return InvalidArgument("CreateEngine: the model cannot be served from the block pool: " +
                           probe.status().ToString());
  }
  parts.stateful = *probe != nullptr;
  if (parts.stateful && config.prefix_cache) {
    LOG_INFO << "engine: " << config.model_name
             << " keeps per-sequence state: prefix cache off for this model";
  }
  parts.inbox = std::make_shared<Inbox>();
  CACHET_ASSIGN_OR_RETURN(parts.storage, kv::KvStorage::Create(g, n_blocks));
  parts.blocks = std::make_unique<kv::BlockPool>(n_blocks);
  if (config.prefix_cache && !parts.stateful) {
    CACHET_ASSIGN_OR_RETURN(parts.cache, OpenCache(*model, config, &parts));
  }
  return std::unique_ptr<ServingEngine>(
      new ServingEngine(std::move(model), config, std::move(parts)));
}

Result<std::unique_ptr<prefix_cache::PrefixCache>> ServingEngine::OpenCache(
    const model::Model& model, const EngineConfig& config, Parts* parts) {
  prefix_cache::Options o;
  o.model_fingerprint = config.model_fingerprint;
  if (o.model_fingerprint.empty()) {
    const model::HParams& hp = model.hparams();
    const model::KvLayout l = model.kv_layout();
    o.model_fingerprint = "cachet.auto:" + config.model_name + ":" + hp.arch + ":" +
                          std::to_string(hp.n_vocab) + ":" + std::to_string(hp.n_embd) + ":" +
                          std::to_string(l.n_layer) + ":" + std::to_string(l.n_kv_heads) + ":" +
                          std::to_string(l.head_dim_k) + ":" + std::to_string(l.head_dim_v) +
                          ":" + std::string(DTypeName(l.type));
  }
  o.disk_dir = config.cache_dir;
  o.disk_cap_bytes = config.cache_disk_cap_bytes;
  std::weak_ptr<Inbox> weak = parts->inbox;
  o.notify_io_done = [weak] {
    if (auto in = weak.lock()) in->Wake();
  };
  return prefix_cache::PrefixCache::Open(o, parts->blocks.get(), parts->storage.get());
}

ServingEngine::ServingEngine(std::shared_ptr<model::Model> model, const EngineConfig& config,
                             Parts parts)
    : model_(std::move(model)),
      config_(config),
      inbox_(std::move(parts.inbox)),
      pool_(std::make_unique<ThreadPool>(config.threads)),
      blocks_(std::move(parts.blocks)),
      storage_(std::move(parts.storage)),
      cache_(std::move(parts.cache)) {
  stateful_ = parts.stateful;
  const model::HParams& hp = model_->hparams();
  blocks_total_ = blocks_->n_blocks();
  info_.model_name = config_.model_name;
  info_.n_vocab = hp.n_vocab;
  info_.n_ctx = hp.n_ctx_train;
  if (config_.n_ctx > 0 && (info_.n_ctx <= 0 || config_.n_ctx < info_.n_ctx)) {
    info_.n_ctx = config_.n_ctx;
  }
  seed_state_ = config_.seed != 0
                    ? config_.seed
                    : static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  sched::SchedulerConfig sc{.block_tokens = model::kKvBlockTokens,
                            .max_batch_tokens = config_.max_batch_tokens,
                            .max_running = config_.max_running,
                            .max_prefill_chunk = config_.max_prefill_chunk,
                            // ~1% of the pool absorbs running sequences crossing into new
                            // blocks, so admissions are not preempted right after their prefill.
                            .admission_reserve_blocks = blocks_total_ / 100};
  if (cache_ != nullptr) hooks_ = std::make_unique<PrefixCacheHooks>(cache_.get());
  sched_ = std::make_unique<sched::Scheduler>(sc, blocks_.get(), hooks_.get());
  thread_ = std::thread([this] { Loop(); });
}

ServingEngine::~ServingEngine() { Shutdown(std::chrono::milliseconds(0)); }

Status ServingEngine::Validate(const GenerateRequest& r) const {
  if (r.prompt.empty()) return InvalidArgument("empty prompt");
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= info_.n_vocab) {
      return InvalidArgument("prompt token " + std::to_string(i) + " has id " +
                             std::to_string(r.prompt[i]) + " outside the vocabulary of " +
                             std::to_string(info_.n_vocab));
    }
  }
  if (r.max_tokens <= 0) return InvalidArgument("max_tokens must be > 0");
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  if (r.max_tokens > info_.n_ctx - n) {
    return InvalidArgument("prompt (" + std::to_string(n) + " tokens) + max_tokens (" +
                           std::to_string(r.max_tokens) + ") exceeds the context of " +
                           std::to_string(info_.n_ctx));
  }
  return ValidateSampling(r.sampling);
}

Result<std::shared_ptr<RequestStream>> ServingEngine::Submit(GenerateRequest request) {
  CACHET_RETURN_IF_ERROR(Validate(request));
  std::weak_ptr<Inbox> weak = inbox_;
  auto ch = std::make_shared<RequestChannel>([weak] {
    if (auto in = weak.lock()) in->Wake();
  });
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    if (inbox_->stop) return Unavailable("the engine is shutting down");
    if (queued_.load() >= config_.queue_capacity) {
      return ResourceExhausted("the request queue is full (" +
                               std::to_string(config_.queue_capacity) + " waiting)");
    }
    queued_.fetch_add(1);
    inbox_->pending.emplace_back(std::move(request), ch);
  }
  inbox_->cv.notify_all();
  return std::shared_ptr<RequestStream>(std::make_shared<ChannelStream>(ch));
}

EngineStats ServingEngine::stats() const {
  EngineStats s;
  s.queue_depth = queued_.load();
  s.running = stat_running_.load();
  s.kv_blocks_used = stat_blocks_used_.load();
  s.kv_blocks_total = blocks_total_;
  s.cache_hit_tokens_ram = stat_hit_ram_.load();
  s.cache_hit_tokens_disk = stat_hit_disk_.load();
  s.cache_miss_tokens = stat_miss_.load();
  s.preemptions = stat_preemptions_.load();
  s.cache_blocks_ram = stat_cache_ram_.load();
  s.cache_blocks_disk = stat_cache_disk_.load();
  s.cache_evictions = stat_evictions_.load();
  s.cache_disk_bytes_read = stat_disk_read_.load();
  s.cache_disk_bytes_written = stat_disk_written_.load();
  return s;
}

void ServingEngine::Shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    if (!inbox_->stop) {
      inbox_->stop = true;
      inbox_->grace_deadline = Clock::now() + grace;
    }
  }
  inbox_->cv.notify_all();
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

uint64_t ServingEngine::NextSeed() { return SplitMix64(&seed_state_); }

}  // namespace cachet::engine
