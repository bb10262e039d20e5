import PostgresNIO

/// The two statements of every verify, prepared once per connection: the server parses and plans
/// them once, not on every request.
enum PostgresStatements {
    /// `admit_attempt`: counts (or refuses) an attempt and commits it inside the call.
    struct Admit: PostgresPreparedStatement {
        static let name = "delivery_otp_admit_v1"
        static let sql = "CALL delivery_otp.admit_attempt($1, $2, $3, $4::integer, $5, $6, $7)"
        typealias Row = (String, Int64?, Int64?, Int64?)

        var scope: String
        var shipment: String
        var date: String
        var limit: Int
        var caller: String
        var time: Int64
        var tolerance: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 7)
            bindings.append(scope)
            bindings.append(shipment)
            bindings.append(date)
            bindings.append(limit)
            bindings.append(caller)
            bindings.append(time)
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
