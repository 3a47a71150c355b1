// A fixed set of helper threads that join the calling thread on a loop of
// independent steps (one per model, one per hour of week):
//
//   std::vector<Stats> stats(models.size());
//   pool.for_each(models.size(), [&](size_t i) { stats[i] = stats_of(models[i]); });
//
// The caller always works on its own loop and helpers only speed it up: a
// loop finishes when every helper is busy elsewhere, or when there are none
// (TaskPool(0) runs everything on the caller, in order), so one request can
// never wait on another's loop. Helpers take steps one at a time from a
// shared counter, so uneven steps balance. The threads are fixed, whatever
// the load: a server answering many requests at once runs at most
// helpers + its own threads, never a thread per request.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace genalytics {

class TaskPool {
 public:
  // Starts `helpers` threads (0: none, every loop runs on its caller).
  explicit TaskPool(size_t helpers) {
    threads_.reserve(helpers);
    try {
      for (size_t i = 0; i < helpers; ++i) threads_.emplace_back([this] { help(); });
    } catch (...) {  // no thread left unjoined when one cannot start
      stop();
      throw;
    }
  }

  // Finishes with every helper joined. REQUIRES: no for_each running.
  ~TaskPool() { stop(); }

  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // One helper per core beyond the first, started on first use: the pool
  // that the process's analytics share.
  static TaskPool& shared() {
    static TaskPool pool(std::max<size_t>(1, std::thread::hardware_concurrency()) - 1);
    return pool;
  }

  size_t helpers() const { return threads_.size(); }

  // Calls step(i) once for each i in [0, count), on this thread and on idle
  // helpers, and returns when every call has returned. Steps may run in any
  // order and at once: each must touch only its own outputs. When steps
  // throw, the rest still run and the first exception is rethrown here.
  void for_each(size_t count, const std::function<void(size_t)>& step) {
    if (count == 0) return;
    Loop loop(step, count);
    const bool offered = !threads_.empty() && count > 1;
    if (offered) {
      {
        MutexLock lock(mutex_);
        loops_.push_back(&loop);
      }
      offered_.notify_all();
    }
    loop.run();
    if (offered) {
      MutexLock lock(mutex_);
      // No helper joins once the loop is withdrawn; wait for those in it.
      withdraw(&loop);
      finished_.wait(lock.native(), [&] {
        mutex_.assert_held();
        return loop.helpers == 0;
      });
    }
    if (loop.error) std::rethrow_exception(loop.error);
  }

 private:
  struct Loop {
    Loop(const std::function<void(size_t)>& step, size_t count) : step(step), count(count) {}

    const std::function<void(size_t)>& step;
    const size_t count;
    std::atomic<size_t> next{0};
    size_t helpers = 0;  // helpers in the loop; guarded by the pool's mutex_
    std::atomic<bool> failed{false};
    std::exception_ptr error;  // the first step's exception, set once

    void run() {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
        try {
          step(i);
        } catch (...) {
          if (!failed.exchange(true)) error = std::current_exception();
        }
      }
    }
  };

  void stop() {
    {
      MutexLock lock(mutex_);
      stopping_ = true;
    }
    offered_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  void withdraw(Loop* loop) REQUIRES(mutex_) {
    const auto it = std::find(loops_.begin(), loops_.end(), loop);
    if (it != loops_.end()) loops_.erase(it);
  }

  void help() {
    MutexLock lock(mutex_);
    while (true) {
      offered_.wait(lock.native(), [&] {
        mutex_.assert_held();
        return stopping_ || !loops_.empty();
      });
      if (stopping_) return;
      Loop* loop = loops_.front();
      ++loop->helpers;
      lock.unlock();
      loop->run();
      lock.lock();
      // Every step is taken: no one else needs to join it.
      withdraw(loop);
      if (--loop->helpers == 0) finished_.notify_all();
    }
  }

  Mutex mutex_;
  std::condition_variable offered_;             // a loop was offered, or the pool stops
  std::condition_variable finished_;            // a loop's last helper left it
  std::deque<Loop*> loops_ GUARDED_BY(mutex_);  // loops with steps left to take
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace genalytics
