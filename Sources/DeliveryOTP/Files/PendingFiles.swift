import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The temporary files of ``AtomicFile/Pending`` writes still in progress, so
/// that a signal handler can remove them (a feed's temporary file holds codes).
///
/// The names are kept as C strings in a fixed table that is never freed;
/// ``removeAll()`` only reads that table and calls `unlink`, both
/// async-signal-safe. Registering and unregistering take a lock.
package enum PendingFiles {
    static let capacity = 16
    private static let lock = Locked(())
    /// `capacity` slots, each nil or a `strdup`ed path.
    nonisolated(unsafe) private static let table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        table.initialize(repeating: nil, count: capacity)
        return table
    }()

    /// Builds the table, so that a signal handler never does; call before installing one.
    package static func prepare() { _ = table }

    static func register(_ path: String) {
        lock.withLock { _ in
            // Beyond `capacity` writes at once, a file is simply not removed on a signal.
            guard let free = (0..<capacity).first(where: { table[$0] == nil }) else { return }
            table[free] = strdup(path)
        }
    }

    static func unregister(_ path: String) {
        lock.withLock { _ in
            for index in 0..<capacity {
                guard let entry = table[index], strcmp(entry, path) == 0 else { continue }
                table[index] = nil
                free(entry)
                return
            }
        }
    }

    /// Unlinks every registered temporary file. Async-signal-safe: call it from a
    /// SIGINT or SIGTERM handler, then end the process.
    package static func removeAll() {
        for index in 0..<capacity {
            if let entry = table[index] { unlink(entry) }
        }
    }
}
