import DeliveryOTP

/// Objects that stay reachable until the process exits.
///
/// `serve` runs its service (state, store, metrics) in the tasks of a service group. A child task
/// of that group can drop its reference on a pool thread just after the group has returned; when
/// the main thread had already let go, the service was still being released there while the main
/// thread was in `exit`. Nothing in that release needs doing: the stores are closed explicitly
/// before, and the kernel discards the memory (the keys' wipe on release is skipped with it). In
/// the AddressSanitizer build, LeakSanitizer ran at exit while the metrics registry was alive, and
/// reported an array the registry holds through a pointer it cannot follow (see
/// `ServiceMetrics`): the exit status was 1 in 1 of 20 to 40 SIGTERM shutdowns. Kept here, the
/// service is alive at every exit, so anything it holds that LeakSanitizer cannot see fails every
/// shutdown test instead of a few.
enum ProcessLifetime {
    private static let objects = Locked<[any Sendable]>([])

    /// Keeps `object`, and what it holds, reachable until the process exits.
    static func keep(_ object: some Sendable) {
        objects.withLock { $0.append(object) }
    }
}
