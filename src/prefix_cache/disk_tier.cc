#include "prefix_cache/disk_tier.h"

#include <algorithm>
#include <tuple>

namespace cachet::prefix_cache {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int64_t FileBytes(const kv::KvGeometry& g) {
  return static_cast<int64_t>(kDiskHeaderBytes) + g.block_bytes();
}

}  // namespace

Result<std::unique_ptr<DiskTier>> DiskTier::Open(const Config& config, PrefixCacheStats* stats) {
  std::unique_ptr<DiskTier> t(new DiskTier(config, stats));
  t->read_bw_ = config.read_bytes_per_s_prior > 0 ? config.read_bytes_per_s_prior : 1e9;
  CACHET_RETURN_IF_ERROR(config.env->CreateDirs(config.dir));
  CACHET_RETURN_IF_ERROR(t->Scan());
  t->io_ = std::make_unique<DiskIo>(config.env, config.dir, config.model_fp, config.geometry,
                                    config.sync_writes, config.notify);
  while (t->bytes_ > config.cap_bytes && !t->entries_.empty()) t->RemoveOldest();
  return t;
}

DiskTier::~DiskTier() = default;  // io_'s destructor drains its queue

Status DiskTier::CheckScanned(const std::string& path, const BlockHash& name, DiskBlockHeader* h) {
  CACHET_ASSIGN_OR_RETURN(MappedFile mf, cfg_.env->MapFile(path));
  CACHET_RETURN_IF_ERROR(DecodeDiskHeader(mf.data(), mf.size(), h));
  CACHET_RETURN_IF_ERROR(CheckDiskHeaderCompatible(*h, cfg_.model_fp, cfg_.geometry));
  if (mf.size() != static_cast<size_t>(FileBytes(cfg_.geometry))) {
    return Corrupt("disk block: truncated payload");
  }
  if (h->hash != name) return Corrupt("disk block: header hash differs from file name");
  const ChainNextFn next = cfg_.chain_next != nullptr ? cfg_.chain_next : &ChainNext;
  if (next(h->parent, h->tokens) != h->hash) {
    return Corrupt("disk block: hash does not match parent and token ids");
  }
  return Status::Ok();
}

// Headers only: the payload checksum is verified at load, so a scan of N files reads N pages.
Status DiskTier::Scan() {
  CACHET_ASSIGN_OR_RETURN(std::vector<std::string> names, cfg_.env->ListDir(cfg_.dir));
  std::vector<std::tuple<int64_t, BlockHash, Entry>> found;
  for (const std::string& name : names) {
    const std::string path = JoinPath(cfg_.dir, name);
    if (EndsWith(name, kDiskTempSuffix)) {  // an interrupted write
      (void)cfg_.env->RemoveFile(path);
      continue;
    }
    BlockHash h;
    if (!ParseDiskFileName(name, &h)) continue;  // not ours: left alone
    DiskBlockHeader hdr;
    Status s = CheckScanned(path, h, &hdr);
    if (!s.ok()) {
      if (s.code() == StatusCode::kCorrupt || s.code() == StatusCode::kUnsupported) {
        (void)cfg_.env->RemoveFile(path);
        ++stats_->disk_corrupt_skipped;
      }
      continue;
    }
    Entry e;
    e.parent = hdr.parent;
    e.salt_fp = hdr.salt_fp;
    e.tokens = hdr.tokens;
    e.file_bytes = FileBytes(cfg_.geometry);
    found.emplace_back(hdr.write_time_us, h, e);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  for (auto& [t, h, e] : found) AddEntry(h, e);
  return Status::Ok();
}

void DiskTier::AddChildRef(const BlockHash& parent) {
  if (n_children_[parent]++ == 0) {
    auto p = entries_.find(parent);
    if (p != entries_.end()) leaves_.erase(p->second.last_use);
  }
}

void DiskTier::DropChildRef(const BlockHash& parent) {
  auto c = n_children_.find(parent);
  if (--c->second == 0) {
    n_children_.erase(c);
    auto p = entries_.find(parent);
    if (p != entries_.end()) leaves_.emplace(p->second.last_use, parent);
  }
}

void DiskTier::AddEntry(const BlockHash& h, Entry e) {
  bytes_ += e.file_bytes;
  e.last_use = ++tick_;
  const BlockHash parent = e.parent;
  entries_.emplace(h, e);
  if (IsLeaf(h)) leaves_.emplace(e.last_use, h);
  AddChildRef(parent);
}

void DiskTier::DropEntry(const BlockHash& h) {
  auto it = entries_.find(h);
  if (it == entries_.end()) return;
  bytes_ -= it->second.file_bytes;
  if (IsLeaf(h)) leaves_.erase(it->second.last_use);
  const BlockHash parent = it->second.parent;
  entries_.erase(it);
  DropChildRef(parent);
}

void DiskTier::RemoveOldest() {
  // Every finite set of chains has a leaf; the fallback only guards against a parent cycle,
  // which would need a SHA-256 fixed point (the scan checks each name against its contents).
  const BlockHash h = leaves_.empty() ? entries_.begin()->first : leaves_.begin()->second;
  DropEntry(h);
  io_->Submit(DiskRemoveOp{h});
  ++stats_->disk_evictions;
}

const DiskTier::Entry* DiskTier::Find(const BlockHash& h) const {
  auto it = entries_.find(h);
  return it == entries_.end() ? nullptr : &it->second;
}

void DiskTier::Touch(const BlockHash& h) {
  auto it = entries_.find(h);
  if (it == entries_.end()) return;
  const bool leaf = IsLeaf(h);
  if (leaf) leaves_.erase(it->second.last_use);
  it->second.last_use = ++tick_;
  if (leaf) leaves_.emplace(it->second.last_use, h);
}

bool DiskTier::Write(const BlockMeta& meta, const uint8_t* bytes) {
  if (entries_.count(meta.hash) != 0) {
    Touch(meta.hash);
    return false;
  }
  if (pending_writes_.count(meta.hash) != 0) return false;
  const int64_t size = FileBytes(cfg_.geometry);
  if (size > cfg_.cap_bytes) {
    ++stats_->disk_spills_dropped;
    return false;
  }
  while (pending_bytes_ > 0 && pending_bytes_ + size > cfg_.max_pending_write_bytes) {
    io_->WaitForWriteDone();
    ApplyCompletions();
  }
  AddChildRef(meta.parent);  // a queued write keeps its parent from being removed
  // Make room now by removing leaves. If queued writes alone exceed the cap, the write still
  // goes ahead and ApplyCompletions trims when it completes (dropping it instead could lose a
  // chain's first block and make the rest unreachable). If every indexed file is an ancestor of
  // a queued write (no leaf), this write is the chain's end: drop it rather than cut the chain.
  while (bytes_ + pending_bytes_ + size > cfg_.cap_bytes && !entries_.empty()) {
    if (leaves_.empty()) {
      DropChildRef(meta.parent);
      ++stats_->disk_spills_dropped;
      return false;
    }
    RemoveOldest();
  }
  DiskWriteOp op;
  op.header.geometry = cfg_.geometry;
  op.header.payload_bytes = cfg_.geometry.block_bytes();
  op.header.write_time_us = cfg_.env->WallMicros();
  op.header.model_fp = cfg_.model_fp;
  op.header.salt_fp = meta.salt_fp;
  op.header.hash = meta.hash;
  op.header.parent = meta.parent;
  op.header.tokens = meta.tokens;
  op.payload = io_->TakeBuffer();
  op.payload.assign(reinterpret_cast<const char*>(bytes),
                    static_cast<size_t>(cfg_.geometry.block_bytes()));
  pending_writes_.emplace(meta.hash, PendingWrite{meta, size});
  pending_bytes_ += size;
  io_->Submit(std::move(op));
  return true;
}

uint64_t DiskTier::StartLoad(std::vector<DiskLoadItem> items) {
  const uint64_t id = next_load_id_++;
  std::vector<BlockHash> hashes;
  for (const auto& it : items) hashes.push_back(it.hash);
  pending_loads_.emplace(id, std::move(hashes));
  io_->Submit(DiskLoadOp{id, std::move(items)});
  return id;
}

void DiskTier::ApplyCompletions() {
  std::vector<DiskWriteDone> writes;
  io_->TakeCompletions(&writes, &ready_loads_);
  for (const DiskWriteDone& w : writes) {
    auto it = pending_writes_.find(w.hash);
    if (it == pending_writes_.end()) continue;
    const PendingWrite pw = it->second;
    pending_writes_.erase(it);
    pending_bytes_ -= pw.file_bytes;
    if (!w.status.ok()) {
      ++stats_->disk_write_errors;
      DropChildRef(pw.meta.parent);
      continue;
    }
    ++stats_->disk_writes;
    stats_->disk_bytes_written += w.file_bytes;
    DropEntry(w.hash);  // (not normally present: Write skips indexed blocks)
    Entry e;
    e.parent = pw.meta.parent;
    e.salt_fp = pw.meta.salt_fp;
    e.tokens = pw.meta.tokens;
    e.file_bytes = pw.file_bytes;
    AddEntry(w.hash, e);
    DropChildRef(pw.meta.parent);  // the queued write's reference; AddEntry took the entry's
    while (bytes_ > cfg_.cap_bytes && !entries_.empty()) RemoveOldest();
  }
}

std::vector<DiskLoadDone> DiskTier::Poll() {
  ApplyCompletions();
  std::vector<DiskLoadDone> loads = std::move(ready_loads_);
  ready_loads_.clear();
  for (const DiskLoadDone& d : loads) {
    auto it = pending_loads_.find(d.id);
    if (it == pending_loads_.end()) continue;
    const std::vector<BlockHash> hashes = std::move(it->second);
    pending_loads_.erase(it);
    stats_->disk_bytes_read += d.bytes_read;
    if (d.n_ok > 0 && d.seconds > 0) {
      const double measured = static_cast<double>(d.bytes_read) / d.seconds;
      read_bw_ = bw_measured_ ? 0.75 * read_bw_ + 0.25 * measured : measured;
      bw_measured_ = true;
    }
    for (int32_t i = 0; i < d.n_ok; ++i) Touch(hashes[i]);
    if (d.n_ok < d.n_requested) {
      DropEntry(hashes[d.n_ok]);  // missing or invalid: never offered again
      if (d.failed_file_deleted) ++stats_->disk_corrupt_skipped;
    }
  }
  return loads;
}

void DiskTier::WaitIdle() { io_->WaitIdle(); }

void DiskTier::ExportTo(std::vector<IndexEntry>* out) const {
  for (const auto& [h, e] : entries_) out->push_back(IndexEntry{h, e.parent, Tier::kDisk});
}

}  // namespace cachet::prefix_cache
