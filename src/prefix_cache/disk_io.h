// DiskIo: the disk tier's I/O thread (internal to prefix_cache). It executes file operations in
// FIFO order — write a block file (temp file + rename), load block files into destination memory
// (validating everything), remove a file — and queues their results for the engine thread.
//
// Thread-safety: Submit*/TakeCompletions/WaitIdle are called by the engine thread; the worker
// thread touches only the queues (guarded by mu_), files under the directory, and the
// destination bytes of the load it is running (handed over by the submitter until the load's
// completion is taken). FIFO order matters: a Remove queued after a Load of the same file runs
// after it; a Write queued after a Remove of the same name leaves the new file.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "prefix_cache/disk_format.h"

namespace cachet::prefix_cache {

struct DiskWriteOp {
  DiskBlockHeader header;  // payload_crc is computed by the worker
  std::string payload;     // a copy of the block's bytes
};

struct DiskLoadItem {
  BlockHash hash;
  BlockHash parent;                          // expected
  Digest256 salt_fp;                         // expected
  std::array<TokenId, kBlockTokens> tokens;  // expected
  uint8_t* dest = nullptr;                   // payload_bytes writable bytes
};

struct DiskLoadOp {
  uint64_t id = 0;
  std::vector<DiskLoadItem> items;
};

struct DiskRemoveOp {
  BlockHash hash;
};

struct DiskWriteDone {
  BlockHash hash;
  Status status;
  int64_t file_bytes = 0;
};

struct DiskLoadDone {
  uint64_t id = 0;
  int32_t n_requested = 0;
  int32_t n_ok = 0;                  // items [0, n_ok) are in their destinations
  Status status;                     // why item n_ok failed (OK when all loaded)
  bool failed_file_deleted = false;  // item n_ok's file was invalid and has been deleted
  int64_t bytes_read = 0;            // file bytes of the loaded items
  double seconds = 0;                // worker time spent on this load
};

class DiskIo {
 public:
  // `dir` exists; `model_fp` and `g` are what loaded files must carry.
  DiskIo(Env* env, std::string dir, const Digest256& model_fp, const kv::KvGeometry& g,
         bool sync_writes, std::function<void()> notify);
  ~DiskIo();  // runs everything queued, then joins the worker

  void Submit(DiskWriteOp op);
  void Submit(DiskLoadOp op);
  void Submit(DiskRemoveOp op);

  // Results finished since the last call.
  void TakeCompletions(std::vector<DiskWriteDone>* writes, std::vector<DiskLoadDone>* loads);
  // Blocks until nothing is queued or running.
  void WaitIdle();
  // Blocks until a write completion is ready to take, or nothing is queued or running.
  void WaitForWriteDone();
  // A payload buffer from finished writes (empty, with capacity), or a new one: reusing them
  // keeps the engine thread's copy at memcpy speed instead of faulting in fresh pages.
  std::string TakeBuffer();

  std::string PathOf(const BlockHash& h) const { return JoinPath(dir_, DiskFileName(h)); }

 private:
  using Op = std::variant<DiskWriteOp, DiskLoadOp, DiskRemoveOp>;
  void Run();
  DiskWriteDone DoWrite(DiskWriteOp& op);
  DiskLoadDone DoLoad(const DiskLoadOp& op);
  // Validates one file against `item` and copies its payload; Corrupt for an invalid file.
  Status LoadOne(const DiskLoadItem& item);

  Env* const env_;
  const std::string dir_;
  const Digest256 model_fp_;
  const kv::KvGeometry geometry_;
  const bool sync_writes_;
  const std::function<void()> notify_;

  std::mutex mu_;
  std::condition_variable cv_;              // work queued or stop requested
  std::condition_variable idle_cv_;         // queue drained, or a write finished
  std::deque<Op> queue_;                    // GUARDED_BY(mu_)
  bool busy_ = false;                       // GUARDED_BY(mu_): the worker runs an op
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::vector<DiskWriteDone> write_done_;   // GUARDED_BY(mu_)
  std::vector<DiskLoadDone> load_done_;     // GUARDED_BY(mu_)
  std::vector<std::string> spare_buffers_;  // GUARDED_BY(mu_)
  std::thread worker_;
};

}  // namespace cachet::prefix_cache
