import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Testing

/// The log line that says the PostgreSQL store cannot serve (event `store-unavailable`) is what
/// an operator alerts on: it must come when the store cannot serve (unreachable, or answering
/// that it cannot), once, and not when the database answered a statement with an error that the
/// request's own error reports.
@Suite("The PostgreSQL store's reachability log", .enabled(if: TestPostgres.isAvailable))
struct PostgresReachabilityTests {
    static let cannotServe = "the PostgreSQL store cannot serve"
    static let servesAgain = "the PostgreSQL store serves again"

    /// Runs `body` with the location of a migrated database, a service role of its own on it, that
    /// role's store (closed after `body`), and the recorder of the store's log.
    static func withRecordedServiceStore(
        named prefix: String,
        _ body: (PostgresLocation, PostgresLocation, PostgresServiceStore, RecordingLogHandler) async throws -> Void
    ) async throws {
        let location = try await TestPostgres.migratedDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        try await TestPostgres.withServiceRole(location, named: prefix) { service in
            let recorder = RecordingLogHandler()
            let store = try await PostgresServiceStore.open(
                service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient,
                logger: Logger(label: "test", factory: { _ in recorder }))
            do { try await body(location, service, store, recorder) } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }

    /// Uploads one line of a device's log, with attempt `number`, to `store`.
    static func upload(_ number: Int, to store: PostgresServiceStore) async throws -> Int {
        let attempt = ServiceStoreContractTests.attempt()
        let device = try DeviceID("device-1")
        let record = AttemptRecord(
            time: attempt.time, shipment: attempt.shipment, date: attempt.date, scope: attempt.scope, outcome: .rejected,
            attempt: number, deviceID: device)
        return try await store.upload([record], from: device, at: attempt.time)
    }

    @Test(
        "does not log that the store cannot serve when the database refuses a statement, such as an attempt number beyond its column",
        .timeLimit(.minutes(3)))
    func statementErrorIsNotAnOutage() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let recorder = RecordingLogHandler()
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: PostgresStoreTests.patient,
            logger: Logger(label: "test", factory: { _ in recorder }))
        // Only a caller of the library can send it (an upload's lines are checked at the edge):
        // the database refuses the statement (SQLSTATE 22003), and the store is still there.
        await #expect(throws: AttemptStoreError.self) { _ = try await Self.upload(3_000_000_000, to: store) }
        #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
        await store.close()
        #expect(
            recorder.events.withLock { $0 }.filter { $0.hasPrefix("store-") }.isEmpty,
            "a refused statement was logged: \(recorder.messages.withLock { $0 })")
    }

    @Test(
        "logs that the store cannot serve when the database refuses the service's login, and that it serves again at its next answer",
        .timeLimit(.minutes(3)))
    func refusedLoginIsAnOutage() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        // The owner migrates; a role of this test's own serves, so that its password can change.
        try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: PostgresStoreTests.patient, logger: Logger(label: "test")
        ).close()
        let service = try await TestPostgres.serviceRole(location, named: "dotp_login_")
        let recorder = RecordingLogHandler()
        let store = try await PostgresServiceStore.open(
            service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient,
            logger: Logger(label: "test", factory: { _ in recorder }))
        #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
        // The password changes under the running replica: its open connection still serves, but
        // a new one is refused (SQLSTATE 28P01). `migrate` makes a connection of its own.
        try await TestPostgres.admin(location) { client in
            try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(service.user) PASSWORD 'changed-password'"))
        }
        await #expect(throws: PostgresStoreError.self) { try await store.migrate() }
        #expect(recorder.messages.withLock { $0 }.contains(Self.cannotServe), "a refused login was not logged as an outage")
        // A refusal of one kind of call is an answer too: the store serves again, and uploads do not.
        try await TestPostgres.admin(location) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON FUNCTION delivery_otp.store_upload(text, jsonb) FROM \(service.user), PUBLIC"))
        }
        await #expect(throws: AttemptStoreError.self) { _ = try await Self.upload(1, to: store) }
        #expect(recorder.messages.withLock { $0 }.contains(Self.servesAgain))
        #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available", "store-unavailable"])
        #expect(recorder.calls.withLock { $0 } == ["uploads"])
        #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 2)
        await store.close()
        try await TestPostgres.dropServiceRole(service)
    }

    @Test(
        "takes a replica out of readiness when its role loses a verify's right while it runs, logging that once, and back when it returns",
        .timeLimit(.minutes(3)))
    func rightsTakenAwayAtRuntime() async throws {
        try await Self.withRecordedServiceStore(named: "dotp_revoked_") { location, service, store, recorder in
            #expect(await store.isWritable())
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
            // An upload's right, taken away, leaves verifies served: the replica stays ready.
            try await TestPostgres.admin(location) { client in
                let upload = "delivery_otp.store_upload(text, jsonb)"
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON FUNCTION \(upload) FROM \(service.user), PUBLIC"))
            }
            #expect(await store.isWritable())
            // An operator takes the procedures away from the running replica's role.
            try await TestPostgres.admin(location) { client in
                try await client.query(
                    PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON ALL PROCEDURES IN SCHEMA delivery_otp FROM \(service.user), PUBLIC"))
            }
            // The probe answers, but the replica cannot serve a verify: not ready, and logged with the rights it lacks.
            #expect(await store.isWritable() == false)
            #expect(
                recorder.reasons.withLock { $0 } == ["the role \(service.user) lacks EXECUTE on admit_attempts, EXECUTE on settle_attempt"])
            await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(ServiceStoreContractTests.attempt()) }
            #expect(await store.isWritable() == false)
            await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(ServiceStoreContractTests.attempt()) }
            #expect(await store.isWritable() == false)
            let messages = recorder.messages.withLock { $0 }
            #expect(
                recorder.events.withLock { $0 } == ["store-unavailable"],
                "the probe logged verifies served between failed ones: \(messages)")
            #expect(messages.contains("the PostgreSQL store cannot serve verifies"), "\(messages)")
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON ALL ROUTINES IN SCHEMA delivery_otp TO \(service.user)"))
            }
            #expect(await store.isWritable())
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available"], "\(recorder.messages.withLock { $0 })")
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 2)
        }
    }

    @Test(
        "logs once that the store refuses uploads or reads of the log when the role loses their rights, however they alternate with verifies, and once when each returns",
        .timeLimit(.minutes(3)))
    func uploadAndLogRightsTakenAwayDoNotFlap() async throws {
        try await Self.withRecordedServiceStore(named: "dotp_upload_") { location, service, store, recorder in
            let routine = "delivery_otp.store_upload(text, jsonb)"
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON FUNCTION \(routine) FROM \(service.user), PUBLIC"))
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE SELECT ON delivery_otp.attempt FROM \(service.user)"))
            }
            // Devices keep uploading, and the security team keeps reading the log, while couriers
            // keep verifying: each upload and read is refused, each verify served.
            for number in 1...3 {
                await #expect(throws: AttemptStoreError.self) { _ = try await Self.upload(number, to: store) }
                #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == number)
                await #expect(throws: AttemptStoreError.self) { _ = try await store.records(since: nil, scope: nil, limit: 10) }
            }
            #expect(await store.isWritable(), "an upload's or the log's right, taken away, took the replica out of readiness")
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-unavailable"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["uploads", "reads of the attempt log"])
            let reasons = recorder.reasons.withLock { $0 }
            #expect(reasons.count == 2 && reasons.allSatisfy { $0.hasSuffix("(SQLSTATE 42501)") }, "\(reasons)")
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON FUNCTION \(routine) TO \(service.user)"))
                try await client.query(PostgresQuery(unsafeSQL: "GRANT SELECT ON delivery_otp.attempt TO \(service.user)"))
            }
            #expect(try await Self.upload(4, to: store) == 1)
            #expect(try await store.records(since: nil, scope: nil, limit: 10).count == 4)
            #expect(
                recorder.events.withLock { $0 } == ["store-unavailable", "store-unavailable", "store-available", "store-available"],
                "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["uploads", "reads of the attempt log", "uploads", "reads of the attempt log"])
        }
    }

    @Test(
        "logs once that the store cannot serve verifies when only an accepted verdict's right is lost, though attempts are still counted",
        .timeLimit(.minutes(3)))
    func acceptedVerdictRightTakenAwayDoesNotFlap() async throws {
        try await Self.withRecordedServiceStore(named: "dotp_settle_") { location, service, store, recorder in
            let settle = "delivery_otp.settle_attempt(bigint, boolean, bigint, boolean)"
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON PROCEDURE \(settle) FROM \(service.user), PUBLIC"))
            }
            // Each attempt is counted (its batch served), and each accepted verdict refused.
            for number in 1...3 {
                let attempt = ServiceStoreContractTests.attempt("TBA12345678900\(number)")
                guard case .counted(let ticket, 1) = try await store.begin(attempt) else {
                    Issue.record("attempt \(number) was not counted")
                    return
                }
                await #expect(throws: AttemptStoreError.self) {
                    try await store.finish(ticket, accepted: true, at: attempt.time, waitForDurability: true)
                }
            }
            #expect(await store.isWritable() == false)
            #expect(recorder.events.withLock { $0 } == ["store-unavailable"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["verifies"])
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON PROCEDURE \(settle) TO \(service.user)"))
            }
            // The probe checks every right of a verify: served, it ends the refusal.
            #expect(await store.isWritable())
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["verifies", "verifies"])
        }
    }

    /// The function that admits a batch of attempts, with its owner's rights, called by the
    /// procedure a verify calls.
    static let admitBatch = "delivery_otp.admit_batch(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint)"

    /// A way a verify is refused from within its routines, by something the readiness probe does
    /// not check (it checks that each routine is there and may be called).
    struct RefusalFromWithin: Sendable, CustomTestStringConvertible {
        let testDescription: String
        /// The SQLSTATE of the refusal.
        let state: String
        let breaking: String
        let mending: String

        static let all = [
            RefusalFromWithin(
                testDescription: "a column renamed, as by a schema out of step", state: "42703",
                breaking: "ALTER TABLE delivery_otp.counter RENAME COLUMN counted TO counted_renamed",
                mending: "ALTER TABLE delivery_otp.counter RENAME COLUMN counted_renamed TO counted"),
            RefusalFromWithin(
                testDescription: "the function that writes run with the caller's rights, which lack the tables'", state: "42501",
                breaking: "ALTER FUNCTION \(admitBatch) SECURITY INVOKER", mending: "ALTER FUNCTION \(admitBatch) SECURITY DEFINER"),
        ]
    }

    @Test(
        "logs once that the store cannot serve verifies when a routine refuses them from within, though the readiness probe cannot tell and passes between them",
        .timeLimit(.minutes(3)), arguments: RefusalFromWithin.all)
    func refusalFromWithinARoutineDoesNotFlap(_ refusal: RefusalFromWithin) async throws {
        try await Self.withRecordedServiceStore(named: "dotp_within_") { location, _, store, recorder in
            try await TestPostgres.admin(location) { client in try await client.query(PostgresQuery(unsafeSQL: refusal.breaking)) }
            for _ in 1...3 {
                await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(ServiceStoreContractTests.attempt()) }
                #expect(await store.isWritable())
            }
            #expect(recorder.events.withLock { $0 } == ["store-unavailable"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["verifies"])
            let reasons = recorder.reasons.withLock { $0 }
            #expect(reasons.count == 1 && reasons.allSatisfy { $0.hasSuffix("(SQLSTATE \(refusal.state))") }, "\(reasons)")
            try await TestPostgres.admin(location) { client in try await client.query(PostgresQuery(unsafeSQL: refusal.mending)) }
            // Only a verify served ends it; nothing was counted while it lasted.
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["verifies", "verifies"])
        }
    }

    @Test(
        "logs that the store serves verifies again at the next readiness probe when a right it checks returns, though verifies met its loss from within a routine",
        .timeLimit(.minutes(3)))
    func rightOfAFunctionWithinReturnsAtTheProbe() async throws {
        try await Self.withRecordedServiceStore(named: "dotp_inner_") { location, service, store, recorder in
            // The procedure a verify calls may be called; the function it calls may not.
            try await TestPostgres.admin(location) { client in
                try await client.query(
                    PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON FUNCTION \(Self.admitBatch) FROM \(service.user), PUBLIC"))
            }
            await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(ServiceStoreContractTests.attempt()) }
            #expect(await store.isWritable() == false)
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON FUNCTION \(Self.admitBatch) TO \(service.user)"))
            }
            #expect(await store.isWritable())
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.calls.withLock { $0 } == ["verifies", "verifies"])
            // The verify then served logs nothing more.
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
            #expect(recorder.events.withLock { $0 }.count == 2, "\(recorder.messages.withLock { $0 })")
        }
    }

    @Test(
        "logs a refusal of the call itself that the readiness probe does not see at most once more after the probe ends it, however verifies and probes alternate",
        .timeLimit(.minutes(3)))
    func refusalTheProbeDoesNotSeeFlapsOnceAtMost() async throws {
        try await Self.withRecordedServiceStore(named: "dotp_unseen_") { location, service, store, recorder in
            let procedure =
                "delivery_otp.admit_attempts(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint, text[], bigint[], bigint[], bigint[])"
            try await TestPostgres.admin(location) { client in
                var definitions = try await client.query(
                    PostgresQuery(unsafeSQL: "SELECT pg_get_functiondef('\(procedure)'::regprocedure)")
                )
                .decode(String.self).makeAsyncIterator()
                let definition = try #require(try await definitions.next())
                // Made again without the defaults of its last four arguments: it is there and may
                // be called, as the probe checks, but not with the eight a verify sends (42883).
                let withoutDefaults = definition.replacing(#/ DEFAULT NULL::\w+\[\]/#, with: "")
                #expect(withoutDefaults != definition)
                let remake = { (text: String) in
                    try await client.query(PostgresQuery(unsafeSQL: "DROP PROCEDURE \(procedure)"))
                    try await client.query(PostgresQuery(unsafeSQL: text))
                    try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON PROCEDURE \(procedure) TO \(service.user)"))
                }
                try await remake(withoutDefaults)
                for _ in 1...3 {
                    await #expect(throws: AttemptStoreError.self) { _ = try await store.begin(ServiceStoreContractTests.attempt()) }
                    #expect(await store.isWritable())
                }
                // Taken for a refusal the probe checks, it was ended once by the probe; refused
                // again, it was not taken so again.
                let events = recorder.events.withLock { $0 }
                #expect(events == ["store-unavailable", "store-available", "store-unavailable"], "\(recorder.messages.withLock { $0 })")
                #expect(recorder.reasons.withLock { $0 }.allSatisfy { $0.hasSuffix("(SQLSTATE 42883)") })
                try await remake(definition)
            }
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
            #expect(
                recorder.events.withLock { $0 } == ["store-unavailable", "store-available", "store-unavailable", "store-available"],
                "\(recorder.messages.withLock { $0 })")
        }
    }
}
