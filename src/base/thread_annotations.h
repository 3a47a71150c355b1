// Clang's thread-safety annotations (-Wthread-safety), as macros that are
// empty for other compilers. They make "which mutex guards this" a checked
// contract instead of a comment: `scripts/check-thread-safety` (run by
// `make test`) compiles every src/*.cc with clang and fails on a guarded
// field touched without its mutex. Use them with base/mutex.h's Mutex and
// MutexLock (std::mutex carries no annotations in libstdc++).
// See https://clang.llvm.org/docs/ThreadSafetyAnalysis.html.
#pragma once

#if defined(__clang__)
#define GENALYTICS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define GENALYTICS_THREAD_ANNOTATION(x)
#endif

// A type that is a lock ("mutex"), or that holds one for a scope.
#define CAPABILITY(name) GENALYTICS_THREAD_ANNOTATION(capability(name))
#define SCOPED_CAPABILITY GENALYTICS_THREAD_ANNOTATION(scoped_lockable)

// A field read or written only with the mutex held; a pointer whose pointee is.
#define GUARDED_BY(mutex) GENALYTICS_THREAD_ANNOTATION(guarded_by(mutex))
#define PT_GUARDED_BY(mutex) GENALYTICS_THREAD_ANNOTATION(pt_guarded_by(mutex))

// A function called with the mutexes held (REQUIRES), or not held (EXCLUDES:
// it takes them itself).
#define REQUIRES(...) GENALYTICS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) GENALYTICS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// A function that takes, tries to take, or lets go of the mutexes (none
// named: the object itself).
#define ACQUIRE(...) GENALYTICS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) GENALYTICS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define RELEASE(...) GENALYTICS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))

// Tells the analysis the mutex is held here (checked by nothing at run time).
#define ASSERT_CAPABILITY(mutex) GENALYTICS_THREAD_ANNOTATION(assert_capability(mutex))
// A function returning a reference to the mutex.
#define RETURN_CAPABILITY(mutex) GENALYTICS_THREAD_ANNOTATION(lock_returned(mutex))

// Turns the analysis off for one function; say why beside it.
#define NO_THREAD_SAFETY_ANALYSIS GENALYTICS_THREAD_ANNOTATION(no_thread_safety_analysis)
