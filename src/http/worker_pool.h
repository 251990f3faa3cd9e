// WorkerPool: the threads that run route handlers. Handlers block (they wait on the engine and
// write streams through api::ByteSink), so they never run on the I/O threads; the pool's size
// bounds how many requests are handled at once, and further requests wait in its FIFO queue
// (each connection has at most one request queued or running, so the queue is bounded by the
// connection cap).
//
// Thread-safety: Submit from any thread; Stop from one controlling thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cachet::http {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);  // at least one thread
  ~WorkerPool();                     // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. False (and `task` is destroyed at once) after Stop().
  bool Submit(std::function<void()> task);
  // Drops queued tasks (destroying them on this thread), waits for running ones; idempotent.
  void Stop();
  // Tasks waiting for a thread.
  size_t queued() const;

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace cachet::http
