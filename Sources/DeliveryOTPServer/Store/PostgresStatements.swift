import PostgresNIO

/// The statements of the verify path, prepared once per connection: the server parses and plans
/// them once, not on every request.
enum PostgresStatements {
    /// `admit_attempts`: admits a batch of attempts, stores the rejected verdicts queued since the
    /// last batch, and commits inside the call.
    struct AdmitBatch: PostgresPreparedStatement {
        static let name = "delivery_otp_admit_batch_v2"
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

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 8)
            bindings.append(rejected)
            bindings.append(scopes)
            bindings.append(shipments)
            bindings.append(dates)
            bindings.append(limits)
            bindings.append(callers)
            bindings.append(times)
            bindings.append(tolerance)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// `settle_attempt`: stores a verdict and commits it inside the call (flushed first when durable).
    struct Settle: PostgresPreparedStatement {
        static let name = "delivery_otp_settle_v1"
        static let sql = "CALL delivery_otp.settle_attempt($1, $2, $3, $4)"
        typealias Row = ()

        var ticket: Int64
        var accepted: Bool
        var time: Int64
        var durable: Bool

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(ticket)
            bindings.append(accepted)
            bindings.append(time)
            bindings.append(durable)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }
}
