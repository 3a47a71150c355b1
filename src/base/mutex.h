// A std::mutex the thread-safety analysis understands (base/thread_annotations.h).
//
//   Mutex mutex_;
//   int count_ GUARDED_BY(mutex_) = 0;
//   ...
//   MutexLock lock(mutex_);
//   ++count_;
//   changed_.wait(lock.native(), [&] { mutex_.assert_held(); return count_ > 0; });
//
// A condition variable waits on lock.native() (a std::unique_lock of the
// underlying std::mutex). Its predicate runs with the mutex held, but clang
// analyses a lambda on its own: the predicate says so with assert_held().
#pragma once

#include <mutex>

#include "base/thread_annotations.h"

namespace genalytics {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

  // REQUIRES: the calling thread holds the mutex. Tells the analysis so, where
  // it cannot see it (a condition variable's predicate); costs nothing.
  void assert_held() const ASSERT_CAPABILITY(this) {}

  // For std::unique_lock and std::condition_variable only.
  std::mutex& native() RETURN_CAPABILITY(this) { return mutex_; }

 private:
  std::mutex mutex_;
};

// Holds a Mutex from construction to destruction (std::lock_guard), and may
// let go of it and take it again in between (std::unique_lock).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : lock_(mutex.native()) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // REQUIRES: held. Lets go of the mutex until lock().
  void unlock() RELEASE() { lock_.unlock(); }
  // REQUIRES: not held. Takes the mutex again.
  void lock() ACQUIRE() { lock_.lock(); }

  // The lock for a std::condition_variable's wait; the mutex is held again
  // when the wait returns.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace genalytics
