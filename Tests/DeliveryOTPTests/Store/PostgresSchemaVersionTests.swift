import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Testing

/// A migration that rewrites how the database decides a batch must not change a single answer.
/// Each test here sends the same attempts to a database at an older schema version and to one at
/// this release's, and compares what both answer and store.
@Suite("The PostgreSQL schema's versions", .enabled(if: TestPostgres.isAvailable))
struct PostgresSchemaVersionTests {
    let logger = Logger(label: "test")

    /// A database at schema `version`, migrated by running the migrations' own statements.
    static func database(at version: Int) async throws -> PostgresLocation {
        let location = try await TestPostgres.freshDatabase()
        try await TestPostgres.admin(location) { client in
            try await client.query("CREATE SCHEMA delivery_otp")
            try await client.query(
                "CREATE TABLE delivery_otp.migration (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            for number in 1...version {
                for statement in PostgresSchema.statements(of: PostgresSchema.migrations[number - 1]) {
                    try await client.query(PostgresQuery(unsafeSQL: statement))
                }
                try await client.query("INSERT INTO delivery_otp.migration (version) VALUES (\(number))")
            }
        }
        return location
    }

    /// One call of `admit_attempts`, as the service sends it.
    struct Batch {
        var rejected: [Int64] = []
        var scopes: [String] = [], shipments: [String] = [], dates: [String] = []
        var limits: [Int32] = [], callers: [String] = [], times: [Int64] = []
    }

    /// What `admit_attempts` answered, per attempt in the order sent.
    struct Answer: Equatable {
        var kinds: [String], tickets: [Int64], numbers: [Int64], ats: [Int64]
    }

    static func admit(_ batch: Batch, tolerance: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Answer {
        let rows = try await connection.query(
            """
            CALL delivery_otp.admit_attempts(\(batch.rejected), \(batch.scopes), \(batch.shipments), \(batch.dates), \
            \(batch.limits), \(batch.callers), \(batch.times), \(tolerance))
            """, logger: logger
        ).collect()
        let (kinds, tickets, numbers, ats) = try rows[0].decode(([String], [Int64], [Int64], [Int64]).self)
        return Answer(kinds: kinds, tickets: tickets, numbers: numbers, ats: ats)
    }

    /// Every counter row and every attempt (without its id, which a sequence gives), sorted.
    static func contents(of connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var lines: [String] = []
        for try await (scope, shipment, date, counted, lockedAt, acceptedAt) in try await connection.query(
            """
            SELECT scope, shipment, delivery_date, counted, locked_at, accepted_at FROM delivery_otp.counter
            ORDER BY scope, shipment, delivery_date
            """, logger: logger
        ).decode((String, String, String, Int32, Int64?, Int64?).self) {
            let lock = lockedAt.map(String.init) ?? "-"
            let handover = acceptedAt.map(String.init) ?? "-"
            lines.append("counter \(scope) \(shipment) \(date) \(counted) \(lock) \(handover)")
        }
        for try await (time, shipment, date, scope, outcome, attempt, device) in try await connection.query(
            """
            SELECT time, shipment, delivery_date, scope, outcome, attempt, device_id FROM delivery_otp.attempt
            ORDER BY time, shipment, delivery_date, scope, outcome, attempt, device_id
            """, logger: logger
        ).decode((Int64, String, String, String, String, Int32?, String?).self) {
            lines.append("attempt \(time) \(shipment) \(date) \(scope) \(outcome) \(attempt.map(String.init) ?? "-") \(device ?? "-")")
        }
        return lines
    }

    /// One batch at a time, on one connection per database: what batches of several replicas at
    /// once do to each other is the group commit's and the contract suite's tests.
    @Test(
        "decides random batches, sent one after another, exactly as version 4 did: every answer, count, lock, handover and logged attempt",
        arguments: [1 as UInt64, 2, 3])
    func sameAnswersAsVersionFour(seed: UInt64) async throws {
        let older = try await Self.database(at: 4)
        let newer = try await Self.database(at: PostgresSchema.version)
        defer {
            Task {
                await TestPostgres.drop(older)
                await TestPostgres.drop(newer)
            }
        }
        let first = try await TestPostgres.connect(older)
        let second = try await TestPostgres.connect(newer)
        var random = ManifestDifferentialTests.SeededGenerator(state: seed)
        let noon = ServiceStoreContractTests.noon.secondsSinceEpoch
        let now = Int64(Date().timeIntervalSince1970)
        // Each database's tickets of the last batch's counted attempts, by position: both must
        // count the same attempts, so the verdicts sent next name the same attempts in each.
        var pending: [(Int64, Int64)] = []
        var counted = 0
        var kinds: Set<String> = []
        // Whether a shipment new in its batch was locked by that batch itself.
        var lockedWhenNew = false
        for round in 0..<60 {
            var batch = (Batch(), Batch())
            for (older, newer) in pending {
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    // A handover, stored at once as the service stores it.
                    for (connection, ticket) in [(first, older), (second, newer)] {
                        _ = try await connection.query("CALL delivery_otp.settle_attempt(\(ticket), true, \(noon), true)", logger: logger)
                            .collect()
                    }
                case 1: continue  // never settled: stays interrupted
                default:
                    batch.0.rejected.append(older)
                    batch.1.rejected.append(newer)
                }
            }
            // Up to 40 attempts, for 12 shipments that come back round after round (rows that
            // exist) and 4 new ones each round (rows the batch creates), two scopes and two days;
            // a shipment several times in a batch, and now and then 12 times in a row; limits
            // from 1 to 10 and some out of that range; now and then a time far ahead or far
            // behind; a tolerance that is sometimes out of range too.
            let burst = round % 5 == 4 ? "NEW\(round)-burst" : nil
            for index in 0..<Int.random(in: 1...40, using: &random) {
                let time: Int64 =
                    switch Int.random(in: 0..<30, using: &random) {
                    case 0: now + 86_400
                    case 1 where round > 0: noon - 3_600
                    default: noon + Int64(round)
                    }
                let shipment =
                    if let burst, index < 12 { burst } else if Bool.random(using: &random) {
                        "VERSION\(Int.random(in: 0..<12, using: &random))"
                    } else {
                        "NEW\(round)-\(Int.random(in: 0..<4, using: &random))"
                    }
                let scope = Bool.random(using: &random) ? "" : "eu"
                let date = Bool.random(using: &random) ? "2024-01-17" : "2024-01-18"
                let limit = Int32([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20][Int.random(in: 0..<14, using: &random)])
                for index in [0, 1] {
                    var side = index == 0 ? batch.0 : batch.1
                    side.scopes.append(scope)
                    side.shipments.append(shipment)
                    side.dates.append(date)
                    side.limits.append(limit)
                    side.callers.append("courier-\(round % 3)")
                    side.times.append(time)
                    if index == 0 { batch.0 = side } else { batch.1 = side }
                }
            }
            let tolerance = Int64([300, 300, 0, 900, -5][Int.random(in: 0..<5, using: &random)])
            let answers = (
                try await Self.admit(batch.0, tolerance: tolerance, on: first, logger: logger),
                try await Self.admit(batch.1, tolerance: tolerance, on: second, logger: logger)
            )
            #expect(answers.0.kinds == answers.1.kinds, "seed \(seed), round \(round)")
            #expect(answers.0.numbers == answers.1.numbers, "seed \(seed), round \(round)")
            // "ahead" comes with the database's own clock, read in a different second by each call.
            let times = [answers.0, answers.1].map { answer in
                zip(answer.kinds, answer.ats).map { kind, at in kind != "ahead" ? "\(at)" : abs(at - now) < 600 ? "now" : "not now: \(at)" }
            }
            #expect(times[0] == times[1], "seed \(seed), round \(round)")
            #expect(answers.0.tickets.map { $0 != 0 } == answers.1.tickets.map { $0 != 0 }, "seed \(seed), round \(round)")
            pending = zip(answers.0.tickets, answers.1.tickets).filter { $0.0 != 0 && $0.1 != 0 }
            counted += pending.count
            kinds.formUnion(answers.0.kinds)
            lockedWhenNew =
                lockedWhenNew || zip(batch.0.shipments, answers.0.kinds).contains { $0.hasPrefix("NEW") && $1 == "locked" }
            #expect(!answers.0.kinds.contains(""), "an attempt without an answer, seed \(seed), round \(round)")
        }
        let stored = (try await Self.contents(of: first, logger: logger), try await Self.contents(of: second, logger: logger))
        #expect(stored.0 == stored.1, "seed \(seed)")
        // The batches reached every branch: counted, locked, handed over, and refused by the clock.
        let outcomes = Set(stored.0.filter { $0.hasPrefix("attempt ") }.map { $0.split(separator: " ")[5] })
        #expect(outcomes.isSuperset(of: ["interrupted", "rejected", "accepted", "locked", "already-accepted"]), "\(outcomes)")
        #expect(kinds.isSuperset(of: ["ahead", "clock"]), "\(kinds)")
        #expect(lockedWhenNew, "no batch locked a shipment it created")
        #expect(counted > 50)
        try await first.close()
        try await second.close()
    }
}
