// ThreadPool: a fixed set of threads shared by all kernels.
//
// Run(fn) calls fn(thread_index, n_threads) once on every thread (the calling thread is index 0)
// and returns when all have finished. Workers spin briefly between jobs (kernels issue many small
// parallel regions per token) and then sleep, so an idle pool costs no CPU.
//
// Thread-safety: one Run() at a time per pool (the engine thread owns its pool). Run() from
// inside fn is not allowed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace cachet {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller; n_threads - 1 workers are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(ith, nth) on every thread; blocks until all returned.
  void Run(const std::function<void(int ith, int nth)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items, one or more per thread, and
  // calls fn(begin, end) for each. Blocks until done.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Number of hardware threads this process may use (sched_getaffinity), at least 1.
  static int HardwareThreads();

 private:
  void WorkerLoop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace cachet
