import DeliveryOTP
import PostgresNIO
import Synchronization

/// Answers a query on a connection that closes under it with an error, where postgres-nio would
/// wait forever.
///
/// postgres-nio 1.33 writes a query to its channel without a promise for the write: a query
/// written to a connection that has already closed (the server restarted, or ended the session
/// with `pg_terminate_backend` or an idle-in-transaction timeout) is discarded, and its answer
/// never comes. The caller would hang, and the pool's lease on the connection would never be
/// returned. `withTransaction` does this itself: its `ROLLBACK` after a failed statement goes to
/// the connection that failed. (A connection that stops answering without closing is closed
/// when a call on it misses its deadline, within a budget: see ``run(on:_:)``.)
///
/// Here each connection gets one watcher, registered once on its `closeFuture`, that fails every
/// query still waiting on it shortly after it closes; a query started on a closed connection fails
/// at once. The cost per query is two lock acquisitions and a task, not a callback per query
/// (which would pile up on a pooled connection that lives for days). A query overtaken by the
/// close leaves its task behind, waiting, with the closed connection: one per query in flight at
/// a close.
package final class ClosedConnectionGuard: Sendable {
    /// The error a query gets when its connection closed before it was answered: its effect on the
    /// database is unknown (for an attempt: counted or not, never half-counted).
    package struct Closed: Error, CustomStringConvertible {
        package var description: String { "the connection to the database closed before the answer came" }
    }

    /// The waiting queries of one connection.
    private final class Watch: Sendable {
        /// Which connection this watches: nil once it is freed, so that a new connection at the
        /// same address is never taken for it.
        weak let connection: PostgresConnection?
        init(_ connection: PostgresConnection) { self.connection = connection }

        private struct State {
            var closed = false
            var nextToken: UInt64 = 0
            var waiting: [UInt64: CheckedContinuation<any Sendable, any Error>] = [:]
        }
        private let state = Locked(State())

        /// Registers a waiting query; nil when the connection has closed already.
        func add(_ continuation: CheckedContinuation<any Sendable, any Error>) -> UInt64? {
            state.withLock { state in
                guard !state.closed else { return nil }
                state.nextToken += 1
                state.waiting[state.nextToken] = continuation
                return state.nextToken
            }
        }

        /// The query's continuation, unless the close has answered it already.
        func remove(_ token: UInt64) -> CheckedContinuation<any Sendable, any Error>? {
            state.withLock { $0.waiting.removeValue(forKey: token) }
        }

        /// Refuses new queries at once; fails those still waiting after a moment's grace, in which a
        /// query that was in flight gets its own error (the server's reason for ending the session).
        func close() {
            state.withLock { $0.closed = true }
            Task {
                try? await Task.sleep(for: .milliseconds(200))
                let waiting = state.withLock { state in
                    defer { state.waiting = [:] }
                    return state.waiting
                }
                for continuation in waiting.values { continuation.resume(throwing: Closed()) }
            }
        }
    }

    private let watches = Locked<[ObjectIdentifier: Watch]>([:])
    /// When this guard last closed connections whose caller gave up, within `closeWindow`.
    private let closes = Locked<[ContinuousClock.Instant]>([])
    private let closeBudget: Int
    private let closeWindow: Duration

    /// A guard that closes at most `closeBudget` connections in any `closeWindow` because their
    /// callers gave up (the pool's size, and the 15 minutes TCP takes to give up, for the store).
    package init(closeBudget: Int = 16, closeWindow: Duration = .seconds(900)) {
        self.closeBudget = closeBudget
        self.closeWindow = closeWindow
    }

    /// Whether another connection may be closed now; counts it if so.
    private func mayClose() -> Bool {
        let now = ContinuousClock.now
        return closes.withLock { closes in
            closes.removeAll { now - $0 > closeWindow }
            guard closes.count < closeBudget else { return false }
            closes.append(now)
            return true
        }
    }

    /// Runs `operation` on `connection`: its result, or ``Closed`` as soon as the connection closes,
    /// whichever comes first. An operation overtaken by the close is left to end (or not) on its own.
    /// Cancelling the caller cancels the operation's task. postgres-nio does not stop a query for
    /// that, so an operation checks `Task.checkCancellation()` before it sends one.
    ///
    /// A caller cancelled while the operation runs (a call past its deadline) also closes the
    /// connection. A query on a connection that no longer answers (a server gone without a reset,
    /// or a failover that left the old address silent) would otherwise keep its pool slot until
    /// TCP gives up, about 15 minutes, and once every slot was held so, every call would fail
    /// although a healthy server answered. Closed, the query fails (at once, or after TLS's wait
    /// for the server's goodbye, which is short here), the pool lets the slot go and the next call
    /// gets a new connection. Whatever the query did in the database stands (an attempt counted,
    /// never lost), as for any call that misses its deadline.
    ///
    /// At most `closeBudget` connections are closed so in any `closeWindow`; past that a slot is
    /// held as before. A server that is alive but stalled (a disk that does not flush) goes on
    /// running a query whose client left, so closing every late call would add a server process
    /// per deadline for as long as the stall lasts, and could use up the server's connections.
    package func run<T: Sendable>(
        on connection: PostgresConnection, _ operation: @escaping @Sendable (PostgresConnection) async throws -> T
    )
        async throws -> T
    {
        let watch = self.watch(connection)
        // The operation's task, and whether it has ended.
        let work = Locked<(task: Task<Void, Never>?, ended: Bool)>((nil, false))
        let answer = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
                guard let token = watch.add(continuation) else {
                    continuation.resume(throwing: Closed())
                    return
                }
                let task = Task {
                    let result: Result<any Sendable, any Error>
                    do { result = .success(try await operation(connection)) } catch { result = .failure(error) }
                    work.withLock { $0.ended = true }
                    watch.remove(token)?.resume(with: result)
                }
                work.withLock { $0.task = task }
                // A cancellation that came before the task was stored found nothing to cancel.
                if Task.isCancelled { task.cancel() }
            }
        } onCancel: {
            let (task, ended) = work.withLock { ($0.task, $0.ended) }
            guard let task, !ended else { return }
            task.cancel()
            if mayClose() { _ = connection.close() as EventLoopFuture<Void> }
        }
        return answer as! T
    }

    /// Runs `query` on `connection` and reads its whole answer (``PostgresNIO/PostgresConnection/allRows(_:logger:file:line:)``).
    package func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRow] {
        try await run(on: connection) { connection in
            try Task.checkCancellation()
            return try await connection.allRows(query, logger: logger)
        }
    }

    /// The connection's watcher, made (and hooked to its close) on first use.
    private func watch(_ connection: PostgresConnection) -> Watch {
        let key = ObjectIdentifier(connection)
        let (watch, isNew) = watches.withLock { watches in
            // An entry for a freed connection whose address came back is stale: replaced.
            if let watch = watches[key], watch.connection === connection { return (watch, false) }
            let watch = Watch(connection)
            watches[key] = watch
            return (watch, true)
        }
        if isNew {
            // Fires at once when the connection has closed already.
            connection.closeFuture.whenComplete { [weak self] _ in
                self?.watches.withLock { watches in
                    if watches[key] === watch { watches.removeValue(forKey: key) }
                }
                watch.close()
            }
        }
        return watch
    }
}
