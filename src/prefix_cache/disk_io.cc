#include "prefix_cache/disk_io.h"

#include <cstring>

#include "prefix_cache/crc32c.h"

namespace cachet::prefix_cache {
namespace {
constexpr size_t kMaxSpareBuffers = 16;
}  // namespace

DiskIo::DiskIo(Env* env, std::string dir, const Digest256& model_fp, const kv::KvGeometry& g,
               bool sync_writes, std::function<void()> notify)
    : env_(env),
      dir_(std::move(dir)),
      model_fp_(model_fp),
      geometry_(g),
      sync_writes_(sync_writes),
      notify_(std::move(notify)) {
  worker_ = std::thread([this] { Run(); });
}

DiskIo::~DiskIo() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void DiskIo::Submit(DiskWriteOp op) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.emplace_back(std::move(op));
  }
  cv_.notify_one();
}

void DiskIo::Submit(DiskLoadOp op) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.emplace_back(std::move(op));
  }
  cv_.notify_one();
}

void DiskIo::Submit(DiskRemoveOp op) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.emplace_back(std::move(op));
  }
  cv_.notify_one();
}

void DiskIo::TakeCompletions(std::vector<DiskWriteDone>* writes, std::vector<DiskLoadDone>* loads) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& w : write_done_) writes->push_back(std::move(w));
  for (auto& d : load_done_) loads->push_back(std::move(d));
  write_done_.clear();
  load_done_.clear();
}

std::string DiskIo::TakeBuffer() {
  std::lock_guard<std::mutex> l(mu_);
  if (spare_buffers_.empty()) return std::string();
  std::string b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return b;
}

void DiskIo::WaitForWriteDone() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [this] { return !write_done_.empty() || (queue_.empty() && !busy_); });
}

void DiskIo::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [this] { return queue_.empty() && !busy_; });
}

// Runs queued ops one at a time; exits once stop_ is set and the queue is empty (so writes queued
// before shutdown reach the disk).
void DiskIo::Run() {
  for (;;) {
    Op op;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      op = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    bool reported = false;
    if (auto* w = std::get_if<DiskWriteOp>(&op)) {
      DiskWriteDone done = DoWrite(*w);
      std::lock_guard<std::mutex> l(mu_);
      write_done_.push_back(std::move(done));
      idle_cv_.notify_all();
      if (spare_buffers_.size() < kMaxSpareBuffers) {
        w->payload.clear();
        spare_buffers_.push_back(std::move(w->payload));
      }
      reported = true;
    } else if (auto* ld = std::get_if<DiskLoadOp>(&op)) {
      DiskLoadDone done = DoLoad(*ld);
      std::lock_guard<std::mutex> l(mu_);
      load_done_.push_back(std::move(done));
      reported = true;
    } else {
      (void)env_->RemoveFile(PathOf(std::get<DiskRemoveOp>(op).hash));
    }
    if (reported && notify_) notify_();  // before going idle: WaitIdle implies it ran
    {
      std::lock_guard<std::mutex> l(mu_);
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }
}

// Temp file + rename: a reader never sees a half-written file under a block's name. No fsync
// unless sync_writes (a cache may lose recent files in a crash; a torn file fails its checksum).
DiskWriteDone DiskIo::DoWrite(DiskWriteOp& op) {
  DiskWriteDone done;
  done.hash = op.header.hash;
  op.header.payload_crc = Crc32c(op.payload.data(), op.payload.size());
  const std::string header = EncodeDiskHeader(op.header);
  const std::string path = PathOf(op.header.hash);
  const std::string tmp = path + std::string(kDiskTempSuffix);
  auto f = env_->NewWritableFile(tmp);
  if (!f.ok()) {
    done.status = f.status();
    return done;
  }
  Status s = (*f)->Append(header);
  if (s.ok()) s = (*f)->Append(op.payload);
  if (s.ok() && sync_writes_) s = (*f)->Sync();
  Status c = (*f)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env_->RenameFile(tmp, path);
  if (!s.ok()) (void)env_->RemoveFile(tmp);
  done.status = s;
  done.file_bytes = static_cast<int64_t>(header.size() + op.payload.size());
  return done;
}

DiskLoadDone DiskIo::DoLoad(const DiskLoadOp& op) {
  DiskLoadDone done;
  done.id = op.id;
  done.n_requested = static_cast<int32_t>(op.items.size());
  const int64_t t0 = env_->NowNanos();
  for (const DiskLoadItem& item : op.items) {
    Status s = LoadOne(item);
    if (!s.ok()) {
      done.status = s;
      if (s.code() == StatusCode::kCorrupt || s.code() == StatusCode::kUnsupported) {
        done.failed_file_deleted = env_->RemoveFile(PathOf(item.hash)).ok();
      }
      break;
    }
    ++done.n_ok;
    done.bytes_read += static_cast<int64_t>(kDiskHeaderBytes) + geometry_.block_bytes();
  }
  if (done.n_ok == 0 && done.n_requested == 0) done.status = NotFound("no disk blocks to load");
  done.seconds = static_cast<double>(env_->NowNanos() - t0) * 1e-9;
  return done;
}

Status DiskIo::LoadOne(const DiskLoadItem& item) {
  const std::string path = PathOf(item.hash);
  CACHET_ASSIGN_OR_RETURN(MappedFile mf, env_->MapFile(path));
  const int64_t payload_bytes = geometry_.block_bytes();
  if (mf.size() != kDiskHeaderBytes + static_cast<size_t>(payload_bytes)) {
    return Corrupt("disk block " + path + ": size " + std::to_string(mf.size()));
  }
  DiskBlockHeader h;
  CACHET_RETURN_IF_ERROR(DecodeDiskHeader(mf.data(), mf.size(), &h));
  CACHET_RETURN_IF_ERROR(CheckDiskHeaderCompatible(h, model_fp_, geometry_));
  if (h.hash != item.hash || h.parent != item.parent || h.salt_fp != item.salt_fp ||
      h.tokens != item.tokens) {
    return Corrupt("disk block " + path + ": name, parent, salt or token ids differ");
  }
  // Copy first, then check the copy: what is verified is exactly what will be served, even if
  // the file changed under the mapping.
  std::memcpy(item.dest, mf.data() + kDiskHeaderBytes, static_cast<size_t>(payload_bytes));
  if (Crc32c(item.dest, static_cast<size_t>(payload_bytes)) != h.payload_crc) {
    return Corrupt("disk block " + path + ": payload checksum mismatch");
  }
  return Status::Ok();
}

}  // namespace cachet::prefix_cache
