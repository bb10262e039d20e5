import DeliveryOTP
import PostgresNIO

/// The statements of the verify path.
///
/// Sent as unnamed statements through ``PostgresNIO/PostgresConnection/allRows(_:logger:file:line:)``,
/// not as prepared statements: postgres-nio 1.33 runs a `PostgresPreparedStatement` only through
/// its async row sequence, which a connection ending at the wrong moment turns into a crash of the
/// whole process (see there). Parsing a `CALL` costs the server little; the procedures' own statements are
/// planned once per session by PL/pgSQL either way.
enum PostgresStatements {
    /// `admit_attempts`: admits a batch of attempts, stores the rejected verdicts queued since the
    /// last batch, and commits inside the call.
    struct AdmitBatch {
        static let sql = "CALL delivery_otp.admit_attempts($1, $2, $3, $4, $5, $6, $7, $8)"
        /// Per attempt, in the order sent: kind, ticket, number and time, 0 for none.
        typealias Row = ([String], [Int64], [Int64], [Int64])

        var rejected: [Int64]
        var scopes: [String]
        var shipments: [String]
        var dates: [String]
        var limits: [Int32]
        var callers: [String]
        var times: [Int64]
        var tolerance: Int64

        var query: PostgresQuery {
            var bindings = PostgresBindings(capacity: 8)
            bindings.append(rejected)
            bindings.append(scopes)
            bindings.append(shipments)
            bindings.append(dates)
            bindings.append(limits)
            bindings.append(callers)
            bindings.append(times)
            bindings.append(tolerance)
            return PostgresQuery(unsafeSQL: Self.sql, binds: bindings)
        }
    }

    /// `settle_attempt`: stores a verdict and commits it inside the call (flushed first when durable).
    struct Settle {
        static let sql = "CALL delivery_otp.settle_attempt($1, $2, $3, $4)"
        /// The error when the attempt was not waiting for a verdict (schema version 6): settled
        /// already, by another caller of the database, or too old to settle.
        static let notWaiting = "DO001"

        var ticket: Int64
        var accepted: Bool
        var time: Int64
        var durable: Bool

        var query: PostgresQuery {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(ticket)
            bindings.append(accepted)
            bindings.append(time)
            bindings.append(durable)
            return PostgresQuery(unsafeSQL: Self.sql, binds: bindings)
        }
    }
}

extension PostgresConnection {
    /// Runs `query` and returns its whole answer, every row asked for as it arrives.
    ///
    /// Through postgres-nio's event-loop API rather than its async row sequence. The sequence asks
    /// the connection for more only when its reader takes a row; a connection that ends while a row
    /// waits for the reader (a server stopped at once, `pg_ctl stop -m immediate` or a crash, sends
    /// the row it had buffered and then closes) fails a precondition in postgres-nio 1.33
    /// (`RowStreamStateMachine.channelReadComplete`) and so ends the process: every replica on that
    /// database at once. Here each row is taken on the connection's own thread as it comes, so none
    /// is ever left waiting for a reader.
    ///
    /// The query is sent from the connection's event loop, so that the row handler is attached in
    /// the same turn as the query is written, before any answer can be read: sent from another
    /// thread, the answer could be read between the two.
    package func allRows(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws
        -> [PostgresRow]
    {
        // Touched only on the event loop, one row at a time; read once the query has ended.
        let rows = Locked<[PostgresRow]>([])
        let ended: EventLoopFuture<PostgresQueryMetadata> = eventLoop.flatSubmit {
            self.query(query, logger: logger, file: file, line: line) { row in rows.withLock { $0.append(row) } }
        }
        _ = try await ended.get()
        return rows.withLock { $0 }
    }
}
