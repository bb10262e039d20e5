import Synchronization

/// Objects that stay reachable until the process exits.
///
/// `serve` runs its service (state, store, metrics) in the tasks of a service group. A child task
/// of that group can drop its reference on a pool thread just after the group has returned; when
/// the main thread had already let go, that last release tore the service down on the pool thread
/// while the main thread was in `exit`. Nothing in that teardown needs doing (the store is closed,
/// and the kernel takes the memory back), and LeakSanitizer, which runs at exit in the
/// AddressSanitizer build, reported the half-torn graph as a leak: the exit status was 1 in 1 of
/// 20 to 40 SIGTERM shutdowns. Kept here, the service is never torn down, and everything it holds
/// must stay visible to LeakSanitizer while it lives (see `ServiceMetrics`).
enum ProcessLifetime {
    private static let objects = Mutex<[any Sendable]>([])

    /// Keeps `object`, and what it holds, reachable until the process exits.
    static func keep(_ object: some Sendable) {
        objects.withLock { $0.append(object) }
    }
}
