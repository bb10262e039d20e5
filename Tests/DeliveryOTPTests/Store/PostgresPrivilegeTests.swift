import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite("The PostgreSQL store's least privilege", .enabled(if: TestPostgres.isAvailable))
struct PostgresPrivilegeTests {
    let logger = Logger(label: "test")

    @Test(
        "serves with a role that may only read the tables and execute the routines, which cannot rewrite the log or reset a count",
        .timeLimit(.minutes(3)))
    func serviceRoleReadsAndExecutesOnly() async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        // The owner (the test role) migrates; the service role gets what docs/deployment.md grants.
        try await PostgresServiceStore.open(location, password: TestPostgres.password, attemptDeadline: .seconds(120), logger: logger)
            .close()
        let service = try await TestPostgres.serviceRole(location, named: "dotp_service_")
        let store = try await PostgresServiceStore.open(
            service, password: TestPostgres.servicePassword, attemptDeadline: .seconds(120), logger: logger)
        // Everything the service does: count, settle both ways, lock, take an upload, read the log.
        let attempt = ServiceStoreContractTests.attempt(limit: 2)
        guard case .counted(let ticket, 1) = try await store.begin(attempt) else {
            Issue.record("not counted")
            return
        }
        try await store.finish(ticket, accepted: false, at: attempt.time, waitForDurability: false)
        #expect(try await store.begin(attempt).counted == 2)
        #expect(try await store.begin(attempt) == .locked)
        let other = ServiceStoreContractTests.attempt("TBA000000000002")
        guard case .counted(let accepted, 1) = try await store.begin(other) else {
            Issue.record("not counted")
            return
        }
        try await store.finish(accepted, accepted: true, at: other.time, waitForDurability: true)
        let uploaded = AttemptRecord(
            time: attempt.time, shipment: attempt.shipment, date: attempt.date, scope: attempt.scope, outcome: .rejected, attempt: 1,
            deviceID: try DeviceID("device-1"))
        #expect(try await store.upload([uploaded], from: try DeviceID("device-1"), at: attempt.time) == 1)
        let outcomes = try await store.records(since: nil, scope: nil, limit: 100).map(\.outcome)
        #expect(outcomes.sorted(by: { $0.rawValue < $1.rawValue }) == [.accepted, .interrupted, .locked, .rejected, .rejected])
        await store.close()

        // What the role may not do by itself.
        let connection = try await TestPostgres.connect(service, password: TestPostgres.servicePassword)
        for statement in [
            "UPDATE delivery_otp.counter SET counted = 0, locked_at = NULL",
            "UPDATE delivery_otp.attempt SET outcome = 'accepted'",
            "DELETE FROM delivery_otp.attempt",
            "INSERT INTO delivery_otp.attempt (time, shipment, delivery_date, scope, outcome, source) VALUES (0, 'X', 'Y', '', 'accepted', 'online')",
            "UPDATE delivery_otp.clock SET latest = 0",
        ] {
            do {
                _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                Issue.record("the service role may run: \(statement)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.sqlState] == "42501", "\(statement): \(String(reflecting: error))")
            }
        }
        // What it may call, it may not turn against the log: a verdict for a device's uploaded
        // line, or a tolerance that moves the shared clock years ahead.
        let device = try DeviceID("device-2")
        let interrupted = AttemptRecord(
            time: attempt.time, shipment: other.shipment, date: other.date, scope: other.scope, outcome: .interrupted, attempt: 2,
            deviceID: device)
        let reopened = try await PostgresServiceStore.open(
            service, password: TestPostgres.servicePassword, attemptDeadline: .seconds(120), logger: logger)
        #expect(try await reopened.upload([interrupted], from: device, at: attempt.time) == 1)
        let uploadedID = try await connection.query(
            "SELECT id FROM delivery_otp.attempt WHERE source = 'upload' AND outcome = 'interrupted'", logger: logger
        ).collect().first?.decode(Int64.self)
        let id = try #require(uploadedID)
        let ahead = Int64(Date().timeIntervalSince1970) + 100_000_000
        // A verdict for it is refused outright (schema version 6: not waiting for a verdict).
        do {
            _ = try await connection.query("SELECT delivery_otp.finish_attempt(\(id), true, 0, true)", logger: logger).collect()
            Issue.record("a verdict for an uploaded line was taken")
        } catch let error as PSQLError {
            #expect(error.serverInfo?[.sqlState] == "DO001", "\(String(reflecting: error))")
        }
        for call in [
            "CALL delivery_otp.admit_attempts(ARRAY[\(id)]::bigint[], '{}', '{}', '{}', '{}', '{}', '{}', 600)",
            "CALL delivery_otp.admit_attempts('{}', ARRAY['']::text[], ARRAY['TBA000000000009'], ARRAY['2024-01-17'], ARRAY[5], ARRAY['x'], ARRAY[\(ahead)]::bigint[], 1000000000)",
        ] {
            _ = try await connection.query(PostgresQuery(unsafeSQL: call), logger: logger).collect()
        }
        let outcome = try await connection.query("SELECT outcome FROM delivery_otp.attempt WHERE id = \(id)", logger: logger).collect()
            .first?.decode(String.self)
        #expect(outcome == "interrupted", "a verdict rewrote an uploaded line")
        // The clock did not move: attempts at the usual time are still counted.
        let third = ServiceStoreContractTests.attempt("TBA000000000003")
        let admitted = try? await reopened.begin(third)
        #expect(admitted?.counted == 1, "the shared clock was moved ahead")
        await reopened.close()
        try await connection.close()
        try await TestPostgres.dropServiceRole(service)
    }

    @Test(
        "refuses a role without the guide's rights with a hint that points at the rights, not at the connection",
        .timeLimit(.minutes(2)))
    func missingRightNamesTheGuide() async throws {
        let location = try await TestPostgres.migratedDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        // An operator who gave the rights by hand, and forgot the schema's.
        try await TestPostgres.withServiceRole(location, named: "dotp_norights_") { service in
            try await TestPostgres.admin(location) { client in
                try await client.query(PostgresQuery(unsafeSQL: "REVOKE USAGE ON SCHEMA delivery_otp FROM \(service.user)"))
            }
            let error = await TestPostgres.refusal(opening: service, password: TestPostgres.servicePassword, migrate: false)
            #expect(error?.description.contains("SQLSTATE 42501") == true, "\(String(describing: error))")
            Self.expectRightsHint(error)
        }
    }

    @Test(
        "refuses at start a role that may not call a routine of the verify path or read a table, naming each right, rather than serving 503s",
        .timeLimit(.minutes(2)))
    func missingRightsRefusedAtStart() async throws {
        let location = try await TestPostgres.migratedDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        try await TestPostgres.withServiceRole(location, named: "dotp_noexec_") { service in
            try await TestPostgres.admin(location) { client in
                for statement in [
                    "REVOKE EXECUTE ON PROCEDURE delivery_otp.settle_attempt(bigint, boolean, bigint, boolean) FROM \(service.user), PUBLIC",
                    "REVOKE SELECT ON delivery_otp.attempt, delivery_otp.migration_served_from FROM \(service.user)",
                ] {
                    try await client.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            let error = await TestPostgres.refusal(opening: service, password: TestPostgres.servicePassword)
            #expect(
                error?.description.contains(
                    "lacks EXECUTE on settle_attempt, SELECT on attempt, SELECT on migration_served_from (SQLSTATE 42501)") == true,
                "\(String(describing: error))")
            Self.expectRightsHint(error)
            // `migrate`, which does not serve, still reads the version as that role.
            let reader = try await PostgresServiceStore.open(
                service, password: TestPostgres.servicePassword, migrate: false, serving: false, attemptDeadline: .seconds(120),
                logger: logger)
            let version = try? await reader.schemaVersion()
            await reader.close()
            #expect(version == PostgresSchema.version)
        }
        // A routine dropped by hand is named too, even to the owner, who has every right.
        try await TestPostgres.admin(location) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP FUNCTION delivery_otp.store_upload(text, jsonb)"))
        }
        let error = await TestPostgres.refusal(opening: location)
        #expect(error?.description.contains("lacks EXECUTE on store_upload, which is missing") == true, "\(String(describing: error))")
    }

    /// The hint for a right refused: the guide's section on it (a heading there), and the owner's migrate.
    static func expectRightsHint(_ error: PostgresStoreError?) {
        #expect(error?.kind == .cannotOpen)
        let hint = error?.hint ?? ""
        #expect(hint.contains("docs/deployment.md, \"When a role is refused a right\"") && hint.contains("owner"), "\(hint)")
        #expect(!hint.contains("pg_hba.conf"), "the connection hint, for a connection that was made: \(hint)")
        let guide = (try? String(contentsOfFile: Repository.path("docs/deployment.md"), encoding: .utf8)) ?? ""
        #expect(guide.contains("\n### When a role is refused a right\n"), "the hint names a section the guide lacks")
    }
}
