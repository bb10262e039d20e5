import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite("The PostgreSQL store's group commit", .enabled(if: TestPostgres.isAvailable))
struct PostgresGroupCommitTests {
    let logger = Logger(label: "test")
    static let patient: Duration = .seconds(120)

    /// The sizes of the batches a store committed.
    final class Batches: Sendable {
        private let sizes = Locked<[Int]>([])
        func add(_ size: Int) { sizes.withLock { $0.append(size) } }
        var all: [Int] { sizes.withLock { $0 } }
    }

    static func attempt(_ shipment: Int, limit: Int) -> OnlineAttempt {
        ServiceStoreContractTests.attempt(String(format: "GROUP%010d", shipment), limit: limit)
    }

    /// Sends `shipments` (one attempt each, all at once) to `store`; the admissions by shipment.
    static func admit(_ shipments: [Int], limit: Int, to store: PostgresServiceStore) async throws -> [Int: [AttemptAdmission]] {
        try await withThrowingTaskGroup(of: (Int, AttemptAdmission).self) { group in
            for shipment in shipments { group.addTask { (shipment, try await store.begin(Self.attempt(shipment, limit: limit))) } }
            return try await group.reduce(into: [:]) { $0[$1.0, default: []].append($1.1) }
        }
    }

    /// Two stores on one database, as two replicas have.
    func replicas(on location: PostgresLocation) async throws -> (PostgresServiceStore, PostgresServiceStore) {
        let first = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger)
        let second = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger)
        return (first, second)
    }

    @Test("admits concurrent attempts in fewer calls than attempts, each decided as if it came alone")
    func batches() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let batches = Batches()
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger, onBatch: batches.add)
        // 30 shipments, 10 attempts each, limit 3.
        let admissions = try await Self.admit(Array((0..<300).map { $0 % 30 }), limit: 3, to: store)
        for (shipment, answers) in admissions {
            #expect(answers.compactMap(\.counted).sorted() == [1, 2, 3], "shipment \(shipment)")
            #expect(answers.filter { $0 == .locked }.count == 7, "shipment \(shipment)")
        }
        #expect(batches.all.reduce(0, +) == 300)
        #expect(batches.all.count < 300, "every attempt had a call of its own: \(batches.all.count) batches")
        #expect(batches.all.allSatisfy { $0 <= 256 })
        await store.close()
    }

    @Test("never deadlocks when two replicas' batches lock the same shipments, sent in opposite orders", .timeLimit(.minutes(3)))
    func noDeadlock() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let (first, second) = try await replicas(on: location)
        // Each round: 20 shipments, sent to one replica in one order and to the other in the
        // reverse, so without one locking order their batches would wait on each other.
        for round in 0..<5 {
            let shipments = (0..<20).map { round * 100 + $0 }
            async let a = Self.admit(shipments + shipments, limit: 3, to: first)
            async let b = Self.admit(shipments.reversed() + shipments.reversed(), limit: 3, to: second)
            // A deadlock would end one batch with an error (SQLSTATE 40P01), thrown here.
            let (fromFirst, fromSecond) = try await (a, b)
            for shipment in shipments {
                let answers = fromFirst[shipment, default: []] + fromSecond[shipment, default: []]
                #expect(answers.compactMap(\.counted).sorted() == [1, 2, 3], "shipment \(shipment)")
                #expect(answers.filter { $0 == .locked }.count == 1, "shipment \(shipment)")
            }
        }
        await first.close()
        await second.close()
    }

    @Test("never deadlocks when one device's log reaches two replicas at once, its lines in opposite orders", .timeLimit(.minutes(3)))
    func uploadsNoDeadlock() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let (first, second) = try await replicas(on: location)
        let van = try DeviceID("van-7")
        // A retry sent to the other replica while the first upload still runs: the same lines,
        // here in the opposite order, so that without one locking order each upload would
        // wait for a line the other holds.
        var added = 0
        for round in 0..<5 {
            let records = (0..<2000).map { index in
                AttemptRecord(
                    time: Timestamp(secondsSinceEpoch: ServiceStoreContractTests.noon.secondsSinceEpoch + Int64(index)),
                    shipment: try! ShipmentID(String(format: "UPLOAD%d%09d", round, index)),
                    date: ServiceStoreContractTests.day, scope: .empty, outcome: .rejected, attempt: 1, deviceID: van)
            }
            // A deadlock would end one upload with an error (SQLSTATE 40P01), thrown here.
            async let a = first.upload(records, from: van, at: ServiceStoreContractTests.noon)
            async let b = second.upload(records.reversed(), from: van, at: ServiceStoreContractTests.noon)
            let (fromFirst, fromSecond) = try await (a, b)
            #expect(fromFirst + fromSecond == 2000, "round \(round): each line once, whichever replica took it")
            added += fromFirst + fromSecond
        }
        #expect(try await first.records(since: nil, scope: nil, limit: 10_000).count == added)
        await first.close()
        await second.close()
    }

    @Test("stores a rejected verdict queued just before the store closes")
    func verdictBeforeClose() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger)
        guard case .counted(let ticket, 1) = try await store.begin(Self.attempt(1, limit: 3)) else {
            Issue.record("not counted")
            return
        }
        try await store.finish(ticket, accepted: false, at: ServiceStoreContractTests.noon, waitForDurability: false)
        await store.close()
        let reopened = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger)
        #expect(try await reopened.records(since: nil, scope: nil, limit: 10).map(\.outcome) == [.rejected])
        await reopened.close()
    }

    @Test("migrates a version-1 database in use, keeping its counts and locks")
    func fromVersionOne() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let noon = ServiceStoreContractTests.noon.secondsSinceEpoch
        try await TestPostgres.admin(location) { client in
            // The schema as release 1 left it, with two attempts counted by its procedure.
            try await client.query("CREATE SCHEMA delivery_otp")
            try await client.query(
                "CREATE TABLE delivery_otp.migration (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            for statement in PostgresSchema.statements(of: PostgresSchema.migrations[0]) {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            }
            try await client.query("INSERT INTO delivery_otp.migration (version) VALUES (1)")
            for shipment in ["GROUP0000000001", "GROUP0000000001", "GROUP0000000002"] {
                try await client.query(
                    "CALL delivery_otp.admit_attempt('', \(shipment), '2024-01-17', 2, 'courier-a', \(noon), 300)")
            }
        }
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: Self.patient, logger: logger)
        #expect(try await store.schemaVersion() == PostgresSchema.version)
        // Shipment 1 used both of its attempts under release 1 (and is locked); shipment 2 one.
        #expect(try await store.begin(Self.attempt(1, limit: 2)) == .locked)
        #expect(try await store.begin(Self.attempt(2, limit: 2)).counted == 2)
        #expect(try await store.begin(Self.attempt(2, limit: 2)) == .locked)
        await store.close()
    }

    @Test(
        "gives up on a shipment's row held elsewhere before the deadline, so an attempt answered 503 is not counted when the row is freed",
        .timeLimit(.minutes(2)))
    func lockWaitEndsBeforeDeadline() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: .seconds(3), logger: logger)
        #expect(try await store.begin(Self.attempt(1, limit: 5)).counted == 1)
        // Another session holds the shipment's row (as another replica's slow batch would).
        let holder = try await TestPostgres.connect(location)
        _ = try await holder.query("BEGIN", logger: logger)
        _ = try await holder.query("SELECT counted FROM delivery_otp.counter FOR UPDATE", logger: logger)
        await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(Self.attempt(1, limit: 5)) }
        // Freed after the caller was answered (at the 3-s deadline at the latest), but before the
        // server's other limits (5 s), which would otherwise end the batch anyway.
        try await Task.sleep(for: .milliseconds(500))
        _ = try await holder.query("ROLLBACK", logger: logger)
        try await Task.sleep(for: .seconds(3))
        let counted = try await store.records(since: nil, scope: nil, limit: 10).filter { $0.attempt != nil }
        #expect(counted.count == 1, "the attempt answered 503 was counted later")
        try await holder.close()
        await store.close()
    }
}
