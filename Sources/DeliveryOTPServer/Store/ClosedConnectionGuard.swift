import PostgresNIO
import Synchronization

/// Answers a query on a connection that closes under it with an error, where postgres-nio would
/// wait forever.
///
/// postgres-nio 1.33 writes a query to its channel without a promise for the write: a query
/// written to a connection that has already closed (the server restarted, ended the session with
/// `pg_terminate_backend` or an idle-in-transaction timeout, or the network dropped it) is
/// discarded, and its answer never comes. The caller would hang, and the pool's lease on the
/// connection would never be returned. `withTransaction` does this itself: its `ROLLBACK` after a
/// failed statement goes to the connection that failed.
///
/// Here each connection gets one watcher, registered once on its `closeFuture`, that fails every
/// query still waiting on it shortly after it closes; a query started on a closed connection fails
/// at once.
/// The cost per query is two lock acquisitions and a task, not a callback per query (which would
/// pile up on a pooled connection that lives for days).
package final class ClosedConnectionGuard: Sendable {
    /// The error a query gets when its connection closed before it was answered: its effect on the
    /// database is unknown (for an attempt: counted or not, never half-counted).
    package struct Closed: Error, CustomStringConvertible {
        package var description: String { "the connection to the database closed before the answer came" }
    }

    /// The waiting queries of one connection.
    private final class Watch: Sendable {
        private struct State {
            var closed = false
            var nextToken: UInt64 = 0
            var waiting: [UInt64: CheckedContinuation<any Sendable, any Error>] = [:]
        }
        private let state = Mutex(State())

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

    private let watches = Mutex<[ObjectIdentifier: Watch]>([:])

    package init() {}

    /// Runs `operation` on `connection`: its result, or ``Closed`` as soon as the connection closes,
    /// whichever comes first. An operation overtaken by the close is left to end (or not) on its own.
    package func run<T: Sendable>(
        on connection: PostgresConnection, _ operation: @escaping @Sendable (PostgresConnection) async throws -> T
    )
        async throws -> T
    {
        let watch = self.watch(connection)
        let answer = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            guard let token = watch.add(continuation) else {
                continuation.resume(throwing: Closed())
                return
            }
            Task {
                let result: Result<any Sendable, any Error>
                do { result = .success(try await operation(connection)) } catch { result = .failure(error) }
                watch.remove(token)?.resume(with: result)
            }
        }
        // swift-format-ignore: NeverForceUnwrap
        return answer as! T
    }

    /// Runs `query` on `connection` and reads its whole answer.
    package func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRow] {
        try await run(on: connection) { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// The connection's watcher, made (and hooked to its close) on first use.
    private func watch(_ connection: PostgresConnection) -> Watch {
        let key = ObjectIdentifier(connection)
        let (watch, isNew) = watches.withLock { watches in
            if let watch = watches[key] { return (watch, false) }
            let watch = Watch()
            watches[key] = watch
            return (watch, true)
        }
        if isNew {
            // Fires at once when the connection has closed already. The entry goes before the
            // connection can be freed (postgres-nio closes a connection before releasing it), so
            // its identifier is never reused while the entry is there.
            connection.closeFuture.whenComplete { [weak self] _ in
                self?.watches.withLock { _ = $0.removeValue(forKey: key) }
                watch.close()
            }
        }
        return watch
    }
}
