import DeliveryOTP

/// A bound on how many requests of one kind do their slow part at once: a request that finds
/// every slot taken is answered 503 at once, rather than queued behind work that waits on a disk.
final class RequestSlots: Sendable {
    /// How many at once.
    let maximum: Int
    private let busy = Locked(0)

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Takes a slot; false when all are taken.
    func take() -> Bool {
        busy.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
    }

    /// Gives a taken slot back.
    func give() { busy.withLock { $0 -= 1 } }
}
