import Foundation

/// Calls `fdatasync` on a file from a thread of its own whenever asked, so that
/// a long write reaches stable storage in steps while it goes on, instead of
/// all at once in the fsync that commits it. On a virtual disk whose cache
/// flush takes time in proportion to what is waiting, this keeps the final
/// flush short. Only speed depends on it: the commit still fsyncs.
final class BackgroundSync: @unchecked Sendable {
    // Every field is guarded by `condition`.
    private let condition = NSCondition()
    private var requested = 0
    private var completed = 0
    private var stopped = false
    /// The errno of the first failed sync, 0 if none. It must reach the caller:
    /// Linux reports a writeback error once per open file, so the commit's own
    /// fsync on the same descriptor may no longer see it.
    private var failure: Int32 = 0
    private var joined = false
    private let finished = DispatchSemaphore(value: 0)

    init(fd: Int32) {
        let thread = Thread { [self] in
            condition.lock()
            while true {
                while requested == completed && !stopped { condition.wait() }
                if stopped { break }
                let target = requested
                condition.unlock()
                let failed = fdatasync(fd) != 0 ? errno : 0
                condition.lock()
                if failure == 0 && failed != 0 && failed != EINVAL { failure = failed }
                completed = target
            }
            condition.unlock()
            finished.signal()
        }
        thread.stackSize = 1 << 18
        thread.start()
    }

    /// Asks for a sync; one already running covers the requests made before it started.
    func request() {
        condition.lock()
        requested += 1
        condition.signal()
        condition.unlock()
    }

    /// Stops the thread, waits for it (and any sync under way) to end, and
    /// returns the errno of the first failed sync, 0 if none. Safe to call again.
    func stop() -> Int32 {
        condition.lock()
        stopped = true
        condition.signal()
        let wait = !joined
        joined = true
        condition.unlock()
        if wait { finished.wait() }
        condition.lock()
        defer { condition.unlock() }
        return failure
    }
}
