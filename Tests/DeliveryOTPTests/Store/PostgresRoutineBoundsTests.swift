import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Testing

/// What a caller of the store's routines (a replica, or whoever holds the service's password)
/// cannot do to the shared clock and the verdicts, since schema version 6. Each test is a
/// reproduction from a review: the call as an attacker would send it, then what every replica
/// must still do.
@Suite("The PostgreSQL store's routines within bounds", .enabled(if: TestPostgres.isAvailable))
struct PostgresRoutineBoundsTests {
    let logger = Logger(label: "test")

    /// Runs `body` with a store and a connection of its own (as the owner) on a new database.
    func withStore(_ body: (PostgresServiceStore, PostgresConnection) async throws -> Void) async throws {
        let location = try await TestPostgres.freshDatabase()
        defer { Task { await TestPostgres.drop(location) } }
        let store = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: PostgresStoreTests.patient, logger: logger)
        let connection = try await TestPostgres.connect(location)
        do {
            try await body(store, connection)
        } catch {
            await store.close()
            try? await connection.close()
            throw error
        }
        await store.close()
        try await connection.close()
    }

    /// `admit_attempts` for one attempt at `time`, with the service's tolerance.
    func admit(_ shipment: String, at time: Int64, rejected: [Int64] = [], on connection: PostgresConnection) async throws {
        let tolerance = Int64(AttemptClock.tolerance), times = [time], shipments = [shipment]
        _ = try await connection.query(
            """
            CALL delivery_otp.admit_attempts(\(rejected), ARRAY['']::text[], \(shipments), ARRAY['2024-01-17']::text[], \
            ARRAY[5]::integer[], ARRAY['someone']::text[], \(times), \(tolerance))
            """, logger: logger
        ).collect()
    }

    /// The shared clock's latest time, as the clock row holds it.
    func latestClock(on connection: PostgresConnection) async throws -> Int64? {
        try await connection.query("SELECT latest FROM delivery_otp.clock", logger: logger).collect().first?.decode(Int64.self)
    }

    /// The logged outcome of the attempt with this ticket.
    func outcome(of ticket: Int64, on connection: PostgresConnection) async throws -> String? {
        try await connection.query("SELECT outcome FROM delivery_otp.attempt WHERE id = \(ticket)", logger: logger).collect().first?
            .decode(String.self)
    }

    @Test("cannot set the shared clock before 1970, which made every later batch on every replica fail", .timeLimit(.minutes(3)))
    func clockBefore1970() async throws {
        try await withStore { store, connection async throws in
            await #expect(throws: PSQLError.self) { try await admit("TBA000000000009", at: Int64.min, on: connection) }
            #expect(try await store.begin(ServiceStoreContractTests.attempt()).counted == 1)
        }
    }

    @Test(
        "moves the shared clock no further than the database's own, so a replica ahead does not refuse one a moment behind",
        .timeLimit(.minutes(3)))
    func clockAhead() async throws {
        try await withStore { store, connection async throws in
            let now = Int64(Date().timeIntervalSince1970)
            // A replica whose clock runs 500 s ahead (within the tolerance, so it is served)...
            _ = try await store.begin(ServiceStoreContractTests.attempt(at: Timestamp(secondsSinceEpoch: now + 500)))
            // ...and one 200 s behind the database, also within it.
            let behind = ServiceStoreContractTests.attempt("TBA000000000002", at: Timestamp(secondsSinceEpoch: now - 200))
            #expect(try await store.begin(behind).counted == 1)
            let latest = try await latestClock(on: connection)
            #expect(try #require(latest) <= Int64(Date().timeIntervalSince1970) + 1, "the database rounds its clock to the second")
        }
    }

    @Test(
        "does not take the shared clock's row lock for each batch of a replica ahead of the database",
        .timeLimit(.minutes(3)))
    func clockAheadDoesNotQueue() async throws {
        try await withStore { store, connection async throws in
            let now = Int64(Date().timeIntervalSince1970)
            // The clock row exists, at the database's time (an attempt 300 s ahead is capped there).
            try await admit("TBA000000000001", at: now + 300, on: connection)
            let latest = try await latestClock(on: connection)
            // Another replica's batch holds the clock row's lock, as when it moves the clock on...
            let holder = try await TestPostgres.connect(store.location)
            do {
                _ = try await holder.query("BEGIN", logger: logger).collect()
                _ = try await holder.query("SELECT latest FROM delivery_otp.clock FOR UPDATE", logger: logger).collect()
                // ...while the replica 300 s ahead sends its next batch: it has nothing to move on,
                // so it does not wait. (Before version 7 it queued here until the lock timed out.)
                _ = try await connection.query("SET lock_timeout = '2s'", logger: logger).collect()
                await #expect(throws: Never.self) { try await admit("TBA000000000002", at: now + 300, on: connection) }
                let counted = try await connection.query(
                    "SELECT counted FROM delivery_otp.counter WHERE shipment = 'TBA000000000002'", logger: logger
                ).collect().first?.decode(Int32.self)
                #expect(counted == 1)
            } catch {
                try? await holder.close()
                throw error
            }
            try await holder.close()
            #expect(try await latestClock(on: connection) == latest, "the batch wrote the clock row")
        }
    }

    @Test(
        "answers a verdict that another caller settled first as not stored, and keeps a handover's time near its attempt's",
        .timeLimit(.minutes(3)))
    func verdictSettledFirst() async throws {
        try await withStore { store, connection async throws in
            let attempt = ServiceStoreContractTests.attempt()
            guard case .counted(let ticket, 1) = try await store.begin(attempt) else {
                Issue.record("not counted")
                return
            }
            // Another caller stores the attempt as rejected first (a verdict rides on any batch).
            try await admit("TBA000000000009", at: attempt.time.secondsSinceEpoch, rejected: [ticket.id], on: connection)
            await #expect(throws: AttemptStoreError.self) {
                try await store.finish(ticket, accepted: true, at: attempt.time, waitForDurability: true)
            }
            // The log holds no handover, so the next try is counted, not "already accepted".
            #expect(try await store.begin(attempt).counted == 2)

            // A handover's time, whatever the caller says, is within the tolerance of its attempt's.
            let other = ServiceStoreContractTests.attempt("TBA000000000003")
            guard case .counted(let accepted, 1) = try await store.begin(other) else {
                Issue.record("not counted")
                return
            }
            let far = Timestamp(secondsSinceEpoch: other.time.secondsSinceEpoch + 100_000)
            try await store.finish(accepted, accepted: true, at: far, waitForDurability: true)
            let bound = Timestamp(secondsSinceEpoch: other.time.secondsSinceEpoch + Int64(AttemptClock.tolerance))
            #expect(try await store.begin(other) == .alreadyAccepted(at: bound))
        }
    }

    @Test(
        "cannot settle an attempt 20 minutes older than the shared clock, which a crash left waiting, as a handover",
        .timeLimit(.minutes(3)))
    func oldAttemptStaysUnsettled() async throws {
        try await withStore { store, connection async throws in
            let attempt = ServiceStoreContractTests.attempt()
            guard case .counted(let ticket, 1) = try await store.begin(attempt) else {
                Issue.record("not counted")
                return
            }
            // The replicas' time moves on by 21 minutes (another shipment's attempt).
            let later = Timestamp(secondsSinceEpoch: attempt.time.secondsSinceEpoch + 1_260)
            #expect(try await store.begin(ServiceStoreContractTests.attempt("TBA000000000002", at: later)).counted == 1)
            await #expect(throws: AttemptStoreError.self) {
                try await store.finish(ticket, accepted: true, at: later, waitForDurability: true)
            }
            #expect(try await store.begin(ServiceStoreContractTests.attempt(at: later)).counted == 2)
        }
    }

    @Test(
        "cannot turn an attempt 20 minutes older than the shared clock, which a crash left waiting, into a rejection through a batch",
        .timeLimit(.minutes(3)))
    func oldAttemptStaysInterrupted() async throws {
        try await withStore { store, connection async throws in
            let attempt = ServiceStoreContractTests.attempt()
            guard case .counted(let ticket, 1) = try await store.begin(attempt) else {
                Issue.record("not counted")
                return
            }
            // The replicas' time moves on by 21 minutes, and then a caller sends the old attempt's
            // verdict with a batch of its own (before version 9, the log then said `rejected`).
            let later = attempt.time.secondsSinceEpoch + 1_260
            try await admit("TBA000000000002", at: later, on: connection)
            try await admit("TBA000000000003", at: later, rejected: [ticket.id], on: connection)
            #expect(try await outcome(of: ticket.id, on: connection) == "interrupted")
            // A verdict sent with the next batch, as the replicas send it, is stored.
            let now = ServiceStoreContractTests.attempt("TBA000000000004", at: Timestamp(secondsSinceEpoch: later))
            guard case .counted(let recent, 1) = try await store.begin(now) else {
                Issue.record("not counted")
                return
            }
            try await admit("TBA000000000005", at: later, rejected: [recent.id], on: connection)
            #expect(try await outcome(of: recent.id, on: connection) == "rejected")
        }
    }

    @Test(
        "keeps the rights given on the routines when it upgrades a database of version 5, and names the table given none",
        .timeLimit(.minutes(3)))
    func upgradeKeepsRights() async throws {
        let location = try await PostgresSchemaVersionTests.database(at: 5)
        defer { Task { await TestPostgres.drop(location) } }
        // Rights given by hand, as on a database set up without the guide's default privileges.
        let service = try await TestPostgres.serviceRole(location, named: "dotp_upgrade_")
        // The owner migrates to this release's version; the service's role then serves.
        let owner = try await PostgresServiceStore.open(
            location, password: TestPostgres.password, attemptDeadline: PostgresStoreTests.patient, logger: logger)
        #expect(try await owner.schemaVersion() == PostgresSchema.version)
        await owner.close()
        // The table of version 8 came after those rights: the replica names it at start (not at
        // the next upgrade, which reads it), and serves once given the grant docs/deployment.md names.
        let refused = await #expect(throws: PostgresStoreError.self) {
            try await PostgresServiceStore.open(
                service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient,
                logger: logger
            ).close()
        }
        #expect(refused?.description.contains("it lacks SELECT on migration_served_from") == true, "\(String(describing: refused))")
        try await TestPostgres.admin(location) { client in
            try await client.query(PostgresQuery(unsafeSQL: "GRANT SELECT ON delivery_otp.migration_served_from TO \(service.user)"))
        }
        let store = try await PostgresServiceStore.open(
            service, password: TestPostgres.servicePassword, migrate: false, attemptDeadline: PostgresStoreTests.patient, logger: logger)
        let attempt = ServiceStoreContractTests.attempt()
        if case .counted(let ticket, 1) = try await store.begin(attempt) {
            try await store.finish(ticket, accepted: true, at: attempt.time, waitForDurability: true)
            #expect(try await store.begin(attempt) == .alreadyAccepted(at: attempt.time))
        } else {
            Issue.record("not counted")
        }
        await store.close()
        try await TestPostgres.dropServiceRole(service)
    }
}
