import DeliveryOTP
import Synchronization

/// Races an operation against a clock without waiting for the operation to give up.
///
/// A task group would wait for its children, so a query stuck on a dead connection would hold the
/// request anyway. Here the operation runs in its own task and the caller is resumed by whichever
/// ends first, the operation or the timer. An operation that loses the race is cancelled: what has
/// not started yet (a request waiting for a connection) is withdrawn, and a query in flight has its
/// connection closed (within a budget, see ``ClosedConnectionGuard/run(on:_:)``), its result dropped.
package enum Deadline {
    package enum Outcome<T: Sendable>: Sendable {
        case finished(T)
        case failed(any Error)
        case timedOut
    }

    /// Resumes the caller once, with the first outcome.
    private final class Waiter<T: Sendable>: Sendable {
        let continuation: Locked<CheckedContinuation<Outcome<T>, Never>?>
        init(_ continuation: CheckedContinuation<Outcome<T>, Never>) { self.continuation = Locked(continuation) }
        func settle(_ outcome: Outcome<T>) {
            continuation.withLock { pending in
                pending?.resume(returning: outcome)
                pending = nil
            }
        }
    }

    package static func race<T: Sendable>(_ duration: Duration, _ operation: @escaping @Sendable () async throws -> T) async -> Outcome<T> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Outcome<T>, Never>) in
            let waiter = Waiter(continuation)
            let work = Task {
                let outcome: Outcome<T>
                do { outcome = .finished(try await operation()) } catch { outcome = .failed(error) }
                waiter.settle(outcome)
                return outcome
            }
            Task {
                // Cancelled (throws) when the operation ends first.
                let timer = Task {
                    try await Task.sleep(for: duration)
                    waiter.settle(.timedOut)
                    // The caller has moved on: withdraw what has not started (a queued connection request).
                    work.cancel()
                }
                _ = await work.value
                timer.cancel()
            }
        }
    }
}
