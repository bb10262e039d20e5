import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value behind a lock: Synchronization's `Mutex`, made visible to ThreadSanitizer.
///
/// On Linux, `Mutex` locks with atomics and futex calls inside the standard library, which is not
/// built with ThreadSanitizer. A test run under `--sanitize=thread` then sees two threads touch
/// the value with nothing ordering them, and reports a race that is not there (a standalone
/// program with a contended `Mutex` does the same). When the ThreadSanitizer runtime is loaded,
/// each critical section tells it so: `__tsan_acquire` after locking, `__tsan_release` before
/// unlocking. Otherwise this is the `Mutex` alone, with one load and a branch more.
package final class Locked<Value: ~Copyable>: Sendable {
    private let mutex: Mutex<Value>

    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with the value, the lock held.
    package func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let address = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            ThreadSanitizerHooks.acquire(address)
            defer { ThreadSanitizerHooks.release(address) }
            return try body(&value)
        }
    }
}

/// ThreadSanitizer's annotation functions, when its runtime is in the process.
enum ThreadSanitizerHooks {
    private typealias Hook = @convention(c) (UnsafeRawPointer) -> Void

    // Looked up once, at first use. On Darwin, `dlsym(nil, _)` finds nothing, which is right
    // there: ThreadSanitizer sees the lock `Mutex` is built on.
    private static let hooks: (acquire: Hook, release: Hook)? = {
        guard let acquire = dlsym(nil, "__tsan_acquire"), let release = dlsym(nil, "__tsan_release") else { return nil }
        return (unsafeBitCast(acquire, to: Hook.self), unsafeBitCast(release, to: Hook.self))
    }()

    static func acquire(_ address: UnsafeRawPointer) { hooks?.acquire(address) }
    static func release(_ address: UnsafeRawPointer) { hooks?.release(address) }
}
