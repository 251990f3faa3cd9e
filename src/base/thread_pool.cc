#include "base/thread_pool.h"

#include <sched.h>

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define CACHET_CPU_RELAX() _mm_pause()
#else
#define CACHET_CPU_RELAX() ((void)0)
#endif

namespace cachet {

namespace {
// Spin iterations of Run() waiting for the workers before it starts yielding its core.
constexpr int kSpinBeforeYield = 2000;
// Then sched_yield() this many times before sleeping (a few hundred microseconds at most).
constexpr int kYieldsBeforeSleep = 200;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::HardwareThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::Run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  fn(0, n_threads_);
  // Spin briefly, then yield: on an oversubscribed machine the worker we wait for may be
  // runnable but preempted, and yielding lets it have this core instead of a spinning caller.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinBeforeYield) {
      CACHET_CPU_RELAX();
    } else {
      sched_yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::WorkerLoop(int ith) {
  uint32_t seen = 0;  // generation_ at construction; a Run() may precede this thread's start
  for (;;) {
    int spins = 0;
    uint32_t g;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinBeforeYield) {
        CACHET_CPU_RELAX();
      } else if (spins < kSpinBeforeYield + kYieldsBeforeSleep) {
        sched_yield();  // stay responsive without starving other runnable threads
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    (*job_)(ith, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  int nth = static_cast<int>(std::min<int64_t>(n_threads_, max_chunks));
  if (nth <= 1) {
    fn(0, n);
    return;
  }
  Run([&](int ith, int) {
    if (ith >= nth) return;
    int64_t begin = n * ith / nth;
    int64_t end = n * (ith + 1) / nth;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace cachet
