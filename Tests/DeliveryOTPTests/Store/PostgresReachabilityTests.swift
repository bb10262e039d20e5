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
        let attempt = ServiceStoreContractTests.attempt()
        let device = try DeviceID("device-1")
        let record = AttemptRecord(
            time: attempt.time, shipment: attempt.shipment, date: attempt.date, scope: attempt.scope, outcome: .rejected,
            attempt: 3_000_000_000, deviceID: device)
        await #expect(throws: AttemptStoreError.self) { _ = try await store.upload([record], from: device, at: attempt.time) }
        #expect(try await store.begin(attempt).counted == 1)
        await store.close()
        let messages = recorder.messages.withLock { $0 }
        #expect(!messages.contains(Self.cannotServe), "a refused statement was logged as an outage")
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
        #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 2)
        #expect(recorder.messages.withLock { $0 }.contains(Self.servesAgain))
        await store.close()
        try await TestPostgres.dropServiceRole(service)
    }

    @Test(
        "takes a replica out of readiness when its role loses a verify's right while it runs, logging that once, and back when it returns",
        .timeLimit(.minutes(3)))
    func rightsTakenAwayAtRuntime() async throws {
        let location = try await TestPostgres.migratedDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        try await TestPostgres.withServiceRole(location, named: "dotp_revoked_") { service in
            let recorder = RecordingLogHandler()
            let store = try await PostgresServiceStore.open(
                service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient,
                logger: Logger(label: "test", factory: { _ in recorder }))
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
            await store.close()
        }
    }

    @Test(
        "logs once that the store refuses uploads when the role loses their right, however verifies and uploads alternate, and once when it returns",
        .timeLimit(.minutes(3)))
    func uploadRightTakenAwayDoesNotFlap() async throws {
        let location = try await TestPostgres.migratedDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        try await TestPostgres.withServiceRole(location, named: "dotp_upload_") { service in
            let recorder = RecordingLogHandler()
            let store = try await PostgresServiceStore.open(
                service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient,
                logger: Logger(label: "test", factory: { _ in recorder }))
            let device = try DeviceID("device-1")
            func upload(_ number: Int) async throws -> Int {
                let attempt = ServiceStoreContractTests.attempt()
                let record = AttemptRecord(
                    time: attempt.time, shipment: attempt.shipment, date: attempt.date, scope: attempt.scope, outcome: .rejected,
                    attempt: number, deviceID: device)
                return try await store.upload([record], from: device, at: attempt.time)
            }
            let routine = "delivery_otp.store_upload(text, jsonb)"
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE EXECUTE ON FUNCTION \(routine) FROM \(service.user), PUBLIC"))
            }
            // Devices keep uploading while couriers keep verifying: each upload is refused, each verify served.
            for number in 1...3 {
                await #expect(throws: AttemptStoreError.self) { _ = try await upload(number) }
                #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == number)
            }
            #expect(await store.isWritable(), "an upload's right, taken away, took the replica out of readiness")
            #expect(recorder.events.withLock { $0 } == ["store-unavailable"], "\(recorder.messages.withLock { $0 })")
            #expect(recorder.reasons.withLock { $0 }.allSatisfy { $0.hasSuffix("(SQLSTATE 42501)") }, "\(recorder.reasons.withLock { $0 })")
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "GRANT EXECUTE ON FUNCTION \(routine) TO \(service.user)"))
            }
            #expect(try await upload(4) == 1)
            #expect(recorder.events.withLock { $0 } == ["store-unavailable", "store-available"], "\(recorder.messages.withLock { $0 })")
            await store.close()
        }
    }
}
