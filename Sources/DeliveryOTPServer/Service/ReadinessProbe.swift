import DeliveryOTP

/// `/readyz`'s check of the store, shared by the requests that ask at once, and a "ready" reused
/// for a moment.
///
/// `/readyz` takes no token, so anyone who reaches it can ask as often as they like, and each
/// check of the store is a write (SQLite: a transaction on the writer thread that verifies share)
/// or queries on the connections that verifies use (PostgreSQL). Asked by every request, a flood
/// of `/readyz` would queue the verifies behind it until they missed their deadline. So at most
/// one check runs at a time, and every request that comes while it runs gets its answer; and a
/// "ready" is answered again without a check for ``freshness`` after the check that gave it
/// began.
/// "Not ready" is never reused: the next request checks again, so a replica is ready again as
/// soon as its store is.
package final class ReadinessProbe: Sendable {
    private struct State {
        /// The check running now, which answers with when it began.
        var running: Task<(ready: Bool, began: ContinuousClock.Instant), Never>?
        /// When the last check that answered "ready" began.
        var readyAt: ContinuousClock.Instant?
    }

    /// How long a "ready" is answered again without a check, from the start of the check that gave it.
    package static let defaultFreshness: Duration = .seconds(1)

    private let state = Locked(State())
    private let freshness: Duration
    private let check: @Sendable () async -> Bool

    /// - Parameters:
    ///   - freshness: how long a "ready" is reused (``defaultFreshness``).
    ///   - check: the store's own check, ``ServiceStore/isWritable()``.
    package init(freshness: Duration = defaultFreshness, check: @escaping @Sendable () async -> Bool) {
        self.freshness = freshness
        self.check = check
    }

    /// Whether the store can record a verify: the check running now, a "ready" younger than
    /// ``freshness``, or a new check.
    package func isReady() async -> Bool {
        let now = ContinuousClock.now
        // The check to wait for, or nil when a fresh "ready" is reused.
        let running = state.withLock { state -> Task<(ready: Bool, began: ContinuousClock.Instant), Never>? in
            if let readyAt = state.readyAt, now - readyAt < freshness { return nil }
            if let running = state.running { return running }
            let check = self.check
            let task = Task {
                let began = ContinuousClock.now
                return (ready: await check(), began: began)
            }
            state.running = task
            return task
        }
        guard let task = running else { return true }
        let (ready, began) = await task.value
        state.withLock { state in
            // Only the first caller to see this check end records it; a newer check may be running.
            guard state.running == task else { return }
            state.running = nil
            state.readyAt = ready ? began : nil
        }
        return ready
    }
}
