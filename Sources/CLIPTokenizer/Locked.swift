// A value behind a pthread mutex: the tokenizer's BPE cache lock.
//
// Why not Synchronization's Mutex: on Linux its contended path takes the lock through the kernel
// (FUTEX_LOCK_PI inside the Swift runtime, which ThreadSanitizer does not instrument), so
// ThreadSanitizer never sees the hand-over from one owner to the next and reports the cache's
// dictionary as an "access race" whenever two threads contend: in 4 of 10 runs of the
// tokenizer's 4-thread test (0 of 10 with this lock). The report is false, but such noise would
// hide real races. ThreadSanitizer intercepts pthread_mutex_lock/unlock, so with this lock its
// runs stay exact and clean. An uncontended lock costs about the same, and the cache is taken
// twice per text piece.

import CLIPSupport

/// `value`, read and written only inside `withLock`.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    // Heap-allocated: a pthread_mutex_t must not move once initialized.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` on the value while holding the lock.
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
