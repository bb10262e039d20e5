import DeliveryOTP
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The service's store for several replicas: one PostgreSQL database that every `serve` process
/// counts in, so the attempt limit holds across machines.
///
/// Attempts are admitted with group commit (``PostgresGroupCommit``): the attempts that arrive
/// while one batch is in the database go together in the next call (`CALL
/// delivery_otp.admit_attempts`), which for each refuses a clock set back or far ahead, holds the
/// (scope, shipment, date) counter row until commit (locked if it existed, created if not),
/// records the attempt as counted, locked or already accepted, and commits inside the call, with
/// `synchronous_commit = on` (set by this client for its own sessions, whatever the server's
/// default). Each answer therefore arrives only once its attempt is durable, before the code is
/// compared, so an answered attempt survives a crash of the replica and of the database. A rejected
/// verdict rides on the next batch; an accepted one (the handover) is its own call, durable before
/// the answer.
///
/// Every call has a deadline: when the database is unreachable, calls fail within seconds with an
/// ``AttemptStoreError`` (the service answers 503) instead of hanging, and the connection pool
/// keeps reconnecting in the background, so the service recovers without a restart.
public final class PostgresServiceStore: ServiceStore {
    /// Where the database is (no password).
    public let location: PostgresLocation
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    /// For a migration, which runs on a connection of its own.
    private let password: String?
    /// Fails a query whose connection closed under it, where postgres-nio would wait forever.
    private let guarded: ClosedConnectionGuard
    private let logger: Logger
    /// Deadlines, errors and the log line when the database stops serving or serves again.
    private let calls: Calls
    /// Admits attempts in batches, one commit each.
    private let groupCommit: PostgresGroupCommit

    /// How long an attempt may wait for the database before the service answers 503.
    private let attemptDeadline: Duration
    /// How long an upload or a read of the log may take: as long as the server lets a statement
    /// of the service's run (``statementTimeout``), and an attempt deadline more for the wait for a
    /// connection and the round trip. So a statement that runs too long ends with the server's
    /// cancel, which keeps the connection, rather than with this client's deadline, which closes it.
    private var bulkDeadline: Duration { Self.bulkDeadline(attemptDeadline) }
    package static func bulkDeadline(_ attemptDeadline: Duration) -> Duration { statementTimeout + attemptDeadline }
    /// How long the server lets any statement of the service's sessions run (`statement_timeout`):
    /// a backstop, so that no statement holds shipments' rows for long after its caller gave up.
    package static let statementTimeout: Duration = .seconds(10)
    /// How long a check at opening may take: 10 s, or the attempt deadline if that is longer.
    private var checkDeadline: Duration { Self.checkDeadline(attemptDeadline) }
    private static func checkDeadline(_ attemptDeadline: Duration) -> Duration { max(.seconds(10), attemptDeadline) }
    /// How long a migration may take, waiting for another replica's included: a minute at least.
    private var migrationDeadline: Duration { max(.seconds(60), attemptDeadline * 20) }

    private init(
        location: PostgresLocation, password: String?, client: PostgresClient, maximumConnections: Int, attemptDeadline: Duration,
        logger: Logger, onBatch: @escaping @Sendable (Int) -> Void
    ) {
        self.guarded = ClosedConnectionGuard(closeBudget: maximumConnections)
        self.location = location
        self.password = password
        self.attemptDeadline = attemptDeadline
        self.client = client
        self.logger = logger
        let calls = Calls(location: location, logger: logger), guarded = self.guarded
        self.calls = calls
        groupCommit = PostgresGroupCommit(store: "the PostgreSQL store at \(location)", deadline: attemptDeadline, onBatch: onBatch) {
            batch throws(AttemptStoreError) in
            try await calls.call("count the attempts", for: .verifies, deadline: attemptDeadline) {
                try await Self.admitted(batch, client: client, guarded: guarded, logger: logger)
            }
        }
        runner = Task { await client.run() }
    }

    /// Connects to the database at `location`, checks that it is durable, and (when `migrate` is true)
    /// brings its schema up to date under an advisory lock, so replicas that start together migrate
    /// once. A schema that is already current is not touched, so a role without the right to
    /// change the schema can serve a database that its owner migrated (`delivery-otp migrate`).
    ///
    /// When `serving` is true (the default), a role that may not call every routine the service
    /// calls, or read every table it reads, is refused here, naming each right it lacks: otherwise
    /// it would start, say it is ready, and answer every verify 503. `delivery-otp migrate`, which
    /// does not serve, passes false.
    public static func open(
        _ location: PostgresLocation, password: String?, migrate: Bool = true, serving: Bool = true, maximumConnections: Int = 16,
        attemptDeadline: Duration = .seconds(3), logger: Logger, onBatch: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws(PostgresStoreError) -> PostgresServiceStore {
        do {
            return try await opened(
                location, password: password, migrate: migrate, serving: serving, maximumConnections: maximumConnections,
                attemptDeadline: attemptDeadline, logger: logger, onBatch: onBatch)
        } catch {
            throw PostgresStoreError(error, location: location)
        }
    }

    private static func opened(
        _ location: PostgresLocation, password: String?, migrate: Bool, serving: Bool, maximumConnections: Int, attemptDeadline: Duration,
        logger: Logger, onBatch: @escaping @Sendable (Int) -> Void
    ) async throws(AttemptStoreError) -> PostgresServiceStore {
        try await probe(
            location, password: password, deadline: checkDeadline(attemptDeadline), connectTimeout: connectTimeout(attemptDeadline))
        let store = PostgresServiceStore(
            location: location, password: password,
            client: PostgresClient(
                configuration: try configuration(
                    location, password: password, maximumConnections: maximumConnections, attemptDeadline: attemptDeadline),
                backgroundLogger: quiet),
            maximumConnections: maximumConnections, attemptDeadline: attemptDeadline, logger: logger, onBatch: onBatch)
        do throws(AttemptStoreError) {
            try await store.checkDurability()
            var version = try await store.readSchemaVersion()
            // Refused before any DDL: a role that may not change the schema would otherwise be told
            // "permission denied" instead of "update delivery-otp".
            if version > PostgresSchema.version {
                try await store.checkServable(version)
            }
            if migrate, version < PostgresSchema.version {
                version = try await store.migrated().to
            }
            // The routines exist from this release's version on (a newer one that may be served keeps them).
            if serving, version >= PostgresSchema.version {
                try await store.checkRights()
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// The TLS settings `location` asks for; nil for none.
    private static func tlsSettings(_ location: PostgresLocation) throws(AttemptStoreError) -> TLSConfiguration? {
        var settings = TLSConfiguration.makeClientConfiguration()
        switch location.tls {
        case .disable:
            return nil
        case .require:
            settings.certificateVerification = .none
        case .verifyFull:
            if let path = location.rootCertificatePath { settings.trustRoots = .certificates(try authorities(in: path)) }
        case .verifyCA:
            // Without the operator's own authority, no name check would leave every public one.
            guard let path = location.rootCertificatePath else {
                throw AttemptStoreError("sslmode=verify-ca needs sslrootcert", kind: .cannotOpen)
            }
            settings.certificateVerification = .noHostnameVerification
            settings.trustRoots = .certificates(try ownAuthorities(in: path))
        }
        // A connection closed because it stopped answering (ClosedConnectionGuard) is gone for the
        // pool only once TLS has waited for the server's goodbye, which a silent server never
        // sends: half a second, not the 5 s default.
        settings.shutdownTimeout = .milliseconds(500)
        return settings
    }

    /// The certificate authorities in `path` (sslrootcert).
    private static func authorities(in path: String) throws(AttemptStoreError) -> [NIOSSLCertificate] {
        do { return try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw unreadableAuthorities(path)
        }
    }

    private static func unreadableAuthorities(_ path: String) -> AttemptStoreError {
        AttemptStoreError("cannot read the certificate authorities in \(path) (sslrootcert)", kind: .cannotOpen)
    }

    /// The authorities in `path` for verify-ca, which checks no name: each read again from DER, so
    /// that no trust flag of a PEM "TRUSTED CERTIFICATE" makes an anchor of a certificate that is
    /// not self-signed, and none with a key of the system's trust roots.
    private static func ownAuthorities(in path: String) throws(AttemptStoreError) -> [NIOSSLCertificate] {
        let read = try authorities(in: path)
        let ders: [[UInt8]], authorities: [NIOSSLCertificate]
        do {
            ders = try read.map { try $0.toDERBytes() }
            authorities = try ders.map { try NIOSSLCertificate(bytes: $0, format: .der) }
        } catch {
            throw unreadableAuthorities(path)
        }
        if let roots = TrustRootKeys.system, let shared = ders.firstIndex(where: roots.contains(keyOfCertificate:)) {
            throw AttemptStoreError(
                "sslmode=verify-ca with certificate \(shared + 1) of \(authorities.count) in \(path) (sslrootcert) among the system's "
                    + "trust roots: any certificate it signs, for any name, would pass for the database; use sslmode=verify-full, "
                    + "or an authority of the database's own that is not in the system's trust store", kind: .cannotOpen)
        }
        return authorities
    }

    /// Startup parameters of every session: durability is this client's decision, not the server's
    /// default or the role's; a statement that waits on a lock or a slow disk gives up rather than
    /// holding a request forever.
    package static func sessionParameters(attemptDeadline: Duration) -> [(String, String)] {
        // A batch that waits for one shipment's row (held by another replica's batch) gives up, and
        // is rolled back, before its callers are answered 503 at the deadline: otherwise it would
        // still count them all once the row is free, though they were told nothing was decided.
        // (A batch sent late, or one that waits for several rows in turn, can still commit after
        // its deadline: its attempts then count against the limit, the safe side.)
        let lockTimeout = max(attemptDeadline * 2 / 3, .milliseconds(100))
        return [
            ("application_name", "delivery-otp"), ("synchronous_commit", "on"),
            ("statement_timeout", "\(milliseconds(statementTimeout))ms"),
            // Every call of the service is one statement that commits by itself, so no session of the
            // pool waits inside a transaction for the client; should one ever do so (the client's machine
            // died between statements), the server ends it after 5 s rather than holding a shipment's row.
            ("idle_in_transaction_session_timeout", "5s"), ("lock_timeout", "\(milliseconds(lockTimeout))ms"),
        ]
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private static func configuration(_ location: PostgresLocation, password: String?, maximumConnections: Int, attemptDeadline: Duration)
        throws(AttemptStoreError) -> PostgresClient.Configuration
    {
        let tls: PostgresClient.Configuration.TLS = try tlsSettings(location).map { .require($0) } ?? .disable
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: password, database: location.database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(milliseconds(connectTimeout(attemptDeadline)))
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = sessionParameters(attemptDeadline: attemptDeadline)
        // The pool's keep-alive query would run outside the guard against closed connections, and
        // could hold `run()` (and so `close()`) forever; every call has a deadline instead, and
        // idle connections are retired after a minute.
        configuration.options.keepAliveBehavior = nil
        return configuration
    }

    /// How long making a connection may take: 3 s, or a verify's deadline when that is longer (a
    /// store given a patient deadline, for a loaded machine, waits as long for a connection).
    private static func connectTimeout(_ attemptDeadline: Duration) -> Duration { max(.seconds(3), attemptDeadline) }

    /// The settings of a connection outside the pool.
    private static func connectionConfiguration(
        _ location: PostgresLocation, password: String?, parameters: [(String, String)], connectTimeout: Duration
    ) throws(AttemptStoreError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        do { tls = try tlsSettings(location).map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable } catch let error
            as AttemptStoreError
        {
            throw error
        } catch {
            throw AttemptStoreError("cannot set up TLS for \(location): \(error)", kind: .cannotOpen)
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: password, database: location.database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(milliseconds(connectTimeout))
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    private static let quiet = Logger(label: "delivery-otp.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// One connection made and closed outside the pool, which retries quietly: a wrong password, a
    /// refused TLS handshake or a missing database is reported as itself, at once.
    private static func probe(
        _ location: PostgresLocation, password: String?, deadline: Duration, connectTimeout: Duration
    ) async throws(AttemptStoreError) {
        let settings = try connectionConfiguration(
            location, password: password, parameters: sessionParameters(attemptDeadline: deadline), connectTimeout: connectTimeout)
        let outcome = await Deadline.race(deadline) {
            let connection = try await PostgresConnection.connect(configuration: settings, id: 0, logger: quiet)
            try await connection.close()
        }
        switch outcome {
        case .finished: return
        case .failed(let error):
            let (reason, kind) = describe(error)
            throw AttemptStoreError("cannot connect to the PostgreSQL store at \(location): \(reason)", kind: kind)
        case .timedOut:
            throw AttemptStoreError("cannot connect to the PostgreSQL store at \(location): no answer within \(deadline)", kind: .busy)
        }
    }

    // MARK: Schema

    /// Refuses a server that could lose a committed attempt in a crash. (`synchronous_commit` is
    /// not read: every session sets it on itself, so the server's default cannot turn it off.)
    private func checkDurability() async throws(AttemptStoreError) {
        let settings = try await call("check the server's settings", for: .opening, deadline: checkDeadline) {
            var found: [String: String] = [:]
            for row in try await self.rows("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'full_page_writes')") {
                let (name, value) = try row.decode((String, String).self)
                found[name] = value
            }
            return found
        }
        for name in ["fsync", "full_page_writes"] where settings[name] == "off" {
            throw AttemptStoreError(
                "the PostgreSQL server at \(location) has \(name) = off: an answered attempt could be lost in a crash; turn it on",
                kind: .notADatabase)
        }
    }

    /// The schema version the database holds: 0 when it has none yet.
    public func schemaVersion() async throws(PostgresStoreError) -> Int {
        do { return try await readSchemaVersion() } catch { throw PostgresStoreError(error, location: location) }
    }

    /// Refuses a role that may not do what the service does: call the routines of the verify path
    /// and of uploads, read the attempt log, and read which releases may serve a newer schema (at
    /// the next rolling upgrade). Each missing right is named, so the operator grants them all at
    /// once; a routine that is not there at all is named as missing.
    private func checkRights() async throws(AttemptStoreError) {
        let missing = try await call("check the role's rights", for: .opening, deadline: checkDeadline) {
            try await self.missingRights(routines: Self.routines, tables: Self.readTables)
        }
        guard missing.isEmpty else {
            throw AttemptStoreError(
                "the role \(location.user) may not serve from the PostgreSQL store at \(location): it lacks "
                    + "\(missing.joined(separator: ", ")) \(Self.stateSuffix(Self.refusedRight))",
                kind: .cannotOpen)
        }
    }

    /// The rights on `routines` (signatures) and `tables` (of the schema) that the role lacks, in
    /// words ("EXECUTE on settle_attempt"), in one query; empty when it has them all.
    private func missingRights(routines: [String], tables: [String]) async throws -> [String] {
        try await rows(
            """
            SELECT 'EXECUTE on ' || split_part(split_part(r, '(', 1), '.', 2) || CASE WHEN p IS NULL THEN ', which is missing' ELSE '' END \
            FROM (SELECT r, to_regprocedure(r) AS p FROM unnest(\(routines)::text[]) AS r) AS routine \
            WHERE p IS NULL OR NOT has_function_privilege(p, 'EXECUTE') \
            UNION SELECT 'SELECT on ' || t FROM unnest(\(tables)::text[]) AS t \
            WHERE NOT has_table_privilege('delivery_otp.' || t, 'SELECT') ORDER BY 1
            """
        ).map { try $0.decode(String.self) }
    }

    /// The routines of a verify, by signature (a procedure's includes its OUT arguments): the two
    /// procedures, and the functions they call with the caller's rights.
    static let verifyRoutines = [
        "delivery_otp.admit_attempts(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint, text[], bigint[], bigint[], bigint[])",
        "delivery_otp.settle_attempt(bigint, boolean, bigint, boolean)",
        "delivery_otp.admit_batch(bigint[], text[], text[], text[], integer[], text[], bigint[], bigint)",
        "delivery_otp.finish_attempt(bigint, boolean, bigint, boolean)",
    ]

    /// Every routine a replica calls: a verify's, and an upload's.
    static let routines = verifyRoutines + ["delivery_otp.store_upload(text, jsonb)"]

    /// The tables a replica reads itself (the others only through the routines).
    static let readTables = ["attempt", "migration", "migration_served_from"]

    private func readSchemaVersion() async throws(AttemptStoreError) -> Int {
        try await call("read the schema version", for: .opening, deadline: checkDeadline) {
            let exists = try await self.rows("SELECT to_regclass('delivery_otp.migration') IS NOT NULL").first?.decode(Bool.self)
            guard exists == true else { return 0 }
            return try await self.rows("SELECT COALESCE(MAX(version), 0)::bigint FROM delivery_otp.migration").first?.decode(Int.self) ?? 0
        }
    }

    /// Refuses a database at `version`, newer than this release's schema, unless every migration
    /// past this release's says that this release may serve it (``PostgresSchema/servedFrom``).
    private func checkServable(_ version: Int) async throws(AttemptStoreError) {
        let known = PostgresSchema.version
        // Only a release of version 8 or later writes a version past this one, and version 8 adds
        // the table; a migration without a row there needs a release of its own version.
        let needed = try await call("read the schema version", for: .opening, deadline: checkDeadline) {
            try await self.rows(
                """
                SELECT COALESCE(MAX(COALESCE(s.served_from, m.version)), 0)::bigint FROM delivery_otp.migration m \
                LEFT JOIN delivery_otp.migration_served_from s ON s.version = m.version WHERE m.version > \(known)
                """
            ).first?.decode(Int.self) ?? 0
        }
        guard needed <= known else {
            throw AttemptStoreError(
                "the PostgreSQL store at \(location) has schema version \(version), which needs a release of schema version \(needed) "
                    + "or later; this release's is \(known)",
                kind: .schemaTooNew(found: version, supported: known))
        }
        logger.info(
            "the PostgreSQL store's schema is newer than this release's, which its migrations say may serve it",
            metadata: ["event": "schema-newer", "found": "\(version)", "release": "\(known)"])
    }

    /// Applies the migrations the database lacks, in one transaction under an advisory lock, and
    /// returns the versions before and after. A database of a newer schema is refused unless its
    /// migrations say that this release may serve it.
    @discardableResult
    public func migrate() async throws(PostgresStoreError) -> (from: Int, to: Int) {
        do { return try await migrated() } catch { throw PostgresStoreError(error, location: location) }
    }

    /// Startup parameters of a migration's own connection: waiting for another replica's migration
    /// may take longer than a request's statement, and a busy machine may pause between the
    /// transaction's statements for longer than the 5 s after which the server ends an idle
    /// transaction of the service's. A statement gives up inside the call's deadline (60 s at
    /// least), so that one wait for another session's lock ends with the server's own error
    /// (55P03, 57014), whose hint names the lock, and not as "no answer" (waits in turn, or a
    /// slow connection before them, can still use up the deadline first).
    private static let migrationParameters = [
        ("application_name", "delivery-otp migrate"), ("synchronous_commit", "on"), ("statement_timeout", "50s"),
        ("lock_timeout", "45s"), ("idle_in_transaction_session_timeout", "60s"),
    ]

    private func migrated() async throws(AttemptStoreError) -> (from: Int, to: Int) {
        let known = PostgresSchema.version
        let settings = try Self.connectionConfiguration(
            location, password: password, parameters: Self.migrationParameters, connectTimeout: Self.connectTimeout(attemptDeadline))
        let guarded = self.guarded
        let found = try await call("migrate", for: .opening, deadline: migrationDeadline) {
            // A connection of its own, outside the pool: its session lasts one transaction.
            let connection = try await PostgresConnection.connect(configuration: settings, id: 0, logger: Self.quiet)
            do {
                let found = try await Self.applyMigrations(on: connection, guarded: guarded)
                try await connection.close()
                return found
            } catch {
                try? await connection.close()
                throw error
            }
        }
        if found > known {
            try await checkServable(found)
        }
        if found < known {
            logger.info(
                "migrated the PostgreSQL store", metadata: ["event": "migrated", "from": "\(found)", "to": "\(known)"])
        }
        return (found, max(found, known))
    }

    /// Applies the migrations the database lacks in one transaction on `connection`, under an
    /// advisory lock that other replicas wait on; returns the version found before. On an error
    /// the caller closes the connection, which ends the transaction on the server (rolled back).
    private static func applyMigrations(on connection: PostgresConnection, guarded: ClosedConnectionGuard) async throws -> Int {
        let logger = quiet
        func run(_ query: PostgresQuery) async throws -> [PostgresRow] { try await guarded.rows(query, on: connection, logger: logger) }
        _ = try await run("BEGIN")
        _ = try await run("SELECT pg_advisory_xact_lock(\(PostgresSchema.advisoryLock))")
        _ = try await run("CREATE SCHEMA IF NOT EXISTS delivery_otp")
        _ = try await run(
            """
            CREATE TABLE IF NOT EXISTS delivery_otp.migration (
                version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let found = try await run("SELECT COALESCE(MAX(version), 0)::bigint FROM delivery_otp.migration").first?.decode(Int.self) ?? 0
        if found < PostgresSchema.version {
            for version in (found + 1)...PostgresSchema.version {
                for statement in PostgresSchema.statements(of: PostgresSchema.migrations[version - 1]) {
                    _ = try await run(PostgresQuery(unsafeSQL: statement))
                }
                _ = try await run("INSERT INTO delivery_otp.migration (version) VALUES (\(version))")
                if let servedFrom = PostgresSchema.servedFrom[version] {
                    _ = try await run(
                        "INSERT INTO delivery_otp.migration_served_from (version, served_from) VALUES (\(version), \(servedFrom))")
                }
            }
        }
        _ = try await run("COMMIT")
        return found
    }

    // MARK: ServiceStore

    public func begin(_ attempt: OnlineAttempt) async throws(AttemptStoreError) -> AttemptAdmission {
        let answer = try await groupCommit.admit(attempt)
        switch answer.kind {
        case "counted" where answer.ticket > 0 && answer.number > 0:
            return .counted(AttemptTicket(id: answer.ticket), number: Int(answer.number))
        case "locked":
            return .locked
        case "already-accepted":
            return .alreadyAccepted(at: Timestamp(secondsSinceEpoch: answer.at))
        case "ahead":
            logger.error(
                "this machine's clock is more than \(AttemptClock.tolerance) s ahead of the database's; verifies are refused",
                metadata: ["event": "clock-ahead", "database-time": "\(Timestamp(secondsSinceEpoch: answer.at))"])
            throw AttemptStoreError(
                "the clock (\(attempt.time)) is ahead of the database's (\(Timestamp(secondsSinceEpoch: answer.at))); nothing was counted",
                kind: .io)
        case "clock":
            let latest = Timestamp(secondsSinceEpoch: answer.at)
            throw AttemptStoreError(
                "the clock (\(attempt.time)) is behind the latest attempt time (\(latest)); nothing was counted",
                kind: .clockMovedBack(latest: latest))
        default:
            throw AttemptStoreError("the PostgreSQL store at \(location) gave an unexpected answer to admit_attempts", kind: .io)
        }
    }

    /// Runs one batch of the group commit: one call, committed (and flushed) before it answers.
    private static func admitted(
        _ batch: PostgresGroupCommit.Batch, client: PostgresClient, guarded: ClosedConnectionGuard, logger: Logger
    ) async throws -> [PostgresGroupCommit.Answer] {
        let attempts = batch.attempts
        let statement = PostgresStatements.AdmitBatch(
            rejected: batch.rejected, scopes: attempts.map(\.scope.rawValue), shipments: attempts.map(\.shipment.rawValue),
            dates: attempts.map(\.date.description), limits: attempts.map { Int32(clamping: $0.limit) },
            callers: attempts.map(\.caller.rawValue), times: attempts.map(\.time.secondsSinceEpoch), tolerance: AttemptClock.tolerance)
        let row = try await client.withConnection { connection in
            try await guarded.run(on: connection) { connection in
                // The deadline passed while this waited for a connection: the callers have been
                // answered 503, so count nothing.
                try Task.checkCancellation()
                return try await connection.allRows(statement.query, logger: logger).first?.decode(PostgresStatements.AdmitBatch.Row.self)
            }
        }
        guard let (kinds, tickets, numbers, ats) = row, tickets.count == kinds.count, numbers.count == kinds.count, ats.count == kinds.count
        else { throw AttemptStoreError("admit_attempts gave no answer", kind: .io) }
        return kinds.indices.map { PostgresGroupCommit.Answer(kind: kinds[$0], ticket: tickets[$0], number: numbers[$0], at: ats[$0]) }
    }

    public func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp, waitForDurability: Bool) async throws(AttemptStoreError)
    {
        guard accepted || waitForDurability else {
            // Rides on the next batch, which commits it with the attempts it admits.
            groupCommit.reject(ticket)
            return
        }
        let id = ticket.id, seconds = time.secondsSinceEpoch
        let logger = self.logger, guarded = self.guarded, client = self.client
        let stored = try await call("store the verdict", for: .verifies, deadline: attemptDeadline) {
            try await client.withConnection { connection in
                try await guarded.run(on: connection) { connection in
                    do {
                        // Committed inside the call: flushed before it returns when waitForDurability, else not waited for.
                        _ = try await connection.allRows(
                            PostgresStatements.Settle(ticket: id, accepted: accepted, time: seconds, durable: waitForDurability).query,
                            logger: logger)
                        return true
                    } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresStatements.Settle.notWaiting {
                        return false
                    }
                }
            }
        }
        guard stored else {
            // Only another caller of the database settles an attempt this replica admitted (or a
            // verdict that comes 20 minutes late): a verdict that was not stored must not be
            // answered as if it were.
            logger.error(
                "the attempt was no longer waiting for its verdict: settled by another caller of the database?",
                metadata: ["event": "verdict-not-stored"])
            throw AttemptStoreError(
                "cannot store the verdict in the PostgreSQL store at \(location): the attempt was no longer waiting for it", kind: .io)
        }
    }

    public func upload(_ records: [AttemptRecord], from uploader: DeviceID, at time: Timestamp) async throws(AttemptStoreError) -> Int {
        // Each line once, in the order sent; the table's key makes a repeat (to any replica) add nothing.
        var seen = Set<String>()
        var rows: [String] = []
        for record in records {
            let line = record.jsonLine
            guard seen.insert(line).inserted else { continue }
            let object = JSONText.line(scalars: [
                ("ord", .integer(rows.count)), ("line", .string(line)), ("time", .integer(Int(record.time.secondsSinceEpoch))),
                ("shipment", .string(record.shipment.rawValue)), ("delivery_date", .string(record.date.description)),
                ("scope", .string(record.scope.rawValue)), ("outcome", .string(record.outcome.rawValue)),
                ("attempt", record.attempt.map { .integer($0) } ?? .null),
                ("device_id", .string((record.deviceID ?? uploader).rawValue)),
            ])
            rows.append(String(object.dropLast()))
        }
        guard !rows.isEmpty else { return 0 }
        let json = "[" + rows.joined(separator: ",") + "]", device = uploader.rawValue
        // One statement, so one transaction without a BEGIN: no session is ever left idle inside a
        // transaction, which the server would end (and postgres-nio would not notice).
        return try await call("store the upload", for: .uploads, deadline: bulkDeadline) {
            try await self.rows("SELECT delivery_otp.store_upload(\(device), \(json)::jsonb)").first?.decode(Int.self) ?? 0
        }
    }

    public func page(from start: AttemptLogStart, scope: Scope?, limit: Int) async throws(AttemptStoreError) -> AttemptLogPage {
        // Read your writes: the rejected verdicts queued so far are stored first.
        await groupCommit.flush()
        let (from, after) = start.bound, scopeName = scope?.rawValue ?? "", everyScope = scope == nil
        let rowsToRead = AttemptLogPage.rowsToRead(forLimit: limit)
        return try await call("read the attempt log", for: .attemptLog, deadline: bulkDeadline) {
            var rows: [(position: AttemptLogPosition, record: AttemptRecord?)] = []
            // The row comparison is a condition on the (time, id) index itself: a page that
            // starts inside a busy second does not read that second's earlier lines.
            for row in try await self.rows(
                """
                SELECT id, time, shipment, delivery_date, scope, outcome, attempt::bigint, device_id FROM delivery_otp.attempt
                WHERE (time, id) > (\(from), \(after)) AND (\(everyScope) OR scope = \(scopeName))
                ORDER BY time, id LIMIT \(rowsToRead)
                """)
            {
                let (id, time, shipment, day, scopeText, outcome, number, device) = try row.decode(
                    (Int64, Int64, String, String, String, String, Int?, String?).self)
                var record: AttemptRecord?
                if let shipment = try? ShipmentID(shipment), let date = try? DeliveryDate(day), let scope = try? Scope(scopeText),
                    let outcome = AttemptRecord.Outcome(rawValue: outcome)
                {
                    record = AttemptRecord(
                        time: Timestamp(secondsSinceEpoch: time), shipment: shipment, date: date, scope: scope, outcome: outcome,
                        attempt: number, deviceID: device.flatMap { try? DeviceID($0) })
                }
                rows.append((AttemptLogPosition(time: time, sequence: id), record))
            }
            return AttemptLogPage(rows: rows, limit: limit)
        }
    }

    /// Whether the store can serve a verify now: the server takes writes, and the role still may
    /// call a verify's routines, which `open` checked (a right can be taken away while the replica
    /// runs; the other rights, an upload's and the log's, leave verifies served and are not asked
    /// here). A server that takes no writes is logged as the store not serving, and a verify's
    /// right found missing as verifies refused (``Calls/Refused``), with the reason, as a failed
    /// verify's call is; otherwise this probe, answered, would log them served again between two
    /// failed verifies. The first error is `.io` for that reason: a kind of a request's own error
    /// (`isStatementError`) would not count as the store not serving. Served, it ends only the
    /// refusals it can see end (see ``Calls``): a verify refused from within a routine for what
    /// it does not check (a schema out of step with this release) leaves the replica ready, and
    /// stays logged until the call refused is served (or a refused probe is served again).
    /// It has a verify's deadline: ready means that a verify would be answered within it.
    public func isWritable() async -> Bool {
        let location = self.location
        do {
            try await calls.call("check readiness", for: .verifies, checksPart: true, deadline: attemptDeadline) {
                let writable = try await self.rows(
                    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"
                ).first?.decode(Bool.self)
                guard writable == true else {
                    throw AttemptStoreError("the server takes no writes (a standby, or default_transaction_read_only)", kind: .io)
                }
                let missing = try await self.missingRights(routines: Self.verifyRoutines, tables: [])
                guard missing.isEmpty else { throw Calls.Refused("the role \(location.user) lacks \(missing.joined(separator: ", "))") }
            }
            return true
        } catch {
            return false
        }
    }

    /// Stores the verdicts still queued, then closes the pool's connections; waits at most 5 s for them.
    public func close() async {
        await groupCommit.close()
        runner.cancel()
        let runner = self.runner
        _ = await Deadline.race(.seconds(5)) { await runner.value }
    }

    // MARK: Calls

    /// Runs `body` against the database within `deadline` (see ``Calls/call(_:for:deadline:_:)``).
    private func call<T: Sendable>(
        _ what: String, for part: Calls.Part, deadline: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws(AttemptStoreError) -> T {
        try await calls.call(what, for: part, deadline: deadline, body)
    }

    /// The SQLSTATE of a right refused to a role the server let in: `insufficient_privilege`.
    static let refusedRight = "42501"

    /// The SQLSTATE of a routine not found, or not with the arguments sent: `undefined_function`.
    static let missingRoutine = "42883"

    /// The SQLSTATE of a write refused by a server that takes none: `read_only_sql_transaction`.
    static let readOnly = "25006"

    /// How ``describe(_:)`` ends a line for a server's error of `state`.
    static func stateSuffix(_ state: String) -> String { "(SQLSTATE \(state))" }

    /// The state at the end of a line that ``describe(_:)`` made from a server's error; nil for
    /// any other line.
    static func serverState(in line: String) -> String? {
        let tail = line.suffix(stateSuffix("XXXXX").count)
        let state = String(tail.dropFirst("(SQLSTATE ".count).dropLast())
        return state.count == 5 && tail == stateSuffix(state) ? state : nil
    }

    /// One line for an error from postgres-nio: the server's message when there is one, else the kind of failure.
    static func describe(_ error: any Error) -> (String, AttemptStoreError.Kind) {
        let error = rootCause(error)
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState] ?? ""
                // 28xxx: authentication; 3D000: no such database; 42501: permission denied.
                let kind: AttemptStoreError.Kind = state.hasPrefix("28") || state == "3D000" || state == refusedRight ? .cannotOpen : .io
                return ("\(message) \(stateSuffix(state))", kind)
            }
            switch error.code {
            case .connectionError, .serverClosedConnection, .uncleanShutdown:
                // A certificate refused is a setting to fix, as a server without TLS is (below).
                if let refusal = certificateRefusal(error.underlying) { return (refusal, .cannotOpen) }
                let cause = error.underlying.map { ": " + String(String(describing: $0).prefix(200)) } ?? ""
                return ("the connection failed or was closed\(cause)", .io)
            case .sslUnsupported:
                let fix = "set ssl = on in its postgresql.conf, as docs/deployment.md does"
                return ("the server does not offer TLS, which sslmode asks for: \(fix)", .cannotOpen)
            case .authMechanismRequiresPassword:
                return ("the server asks for a password: set PGPASSWORD or --database-password-file", .cannotOpen)
            case .queryCancelled: return ("the query was cancelled", .busy)
            default: return ("\(error.code)", .io)
            }
        }
        if let error = error as? AttemptStoreError { return (error.description, error.kind) }
        if let error = error as? Calls.Refused { return (error.description, .io) }
        if let error = error as? ClosedConnectionGuard.Closed { return (error.description, .io) }
        return (String(describing: type(of: error)), .io)
    }

    /// The error inside a transaction's failure (its body's, or its BEGIN's, COMMIT's or
    /// ROLLBACK's), however deep, which says what went wrong; any other error itself.
    static func rootCause(_ error: any Error) -> any Error {
        guard let failed = error as? PostgresTransactionError,
            let inner = failed.closureError ?? failed.beginError ?? failed.commitError ?? failed.rollbackError
        else { return error }
        return rootCause(inner)
    }

    /// Whether `error` is the database's answer to one request's statement: the store is
    /// reachable and serves, and the call's own error says what failed in that request (a value
    /// out of its column's range, for instance). A right or an object refused to one part of the
    /// service's calls is that part's (``Calls/isRefusal(_:)``). Any other failure means the store
    /// cannot serve, and is logged as such: a connection not made or lost, a login refused, no
    /// answer in time (a statement's or a lock's timeout), or an error of the server's own (read
    /// only after a failover, a failing disk).
    static func isStatementError(_ error: any Error) -> Bool {
        let error = rootCause(error)
        if let error = error as? PSQLError {
            guard let state = error.serverInfo?[.sqlState] else { return false }
            // Classes 22 (data), 23 (integrity), 40 (a transaction rolled back: a deadlock or a
            // serialization failure), P0 (raised in PL/pgSQL) and DO (the store's routines' own).
            return ["22", "23", "40", "P0", "DO"].contains(String(state.prefix(2)))
        }
        // The store's own reading of an answer (a clock moved back, for instance).
        if let error = error as? AttemptStoreError { return error.kind != .io && error.kind != .busy }
        return false
    }

    /// The server's certificate as this side's checks refused it, in words (NIOSSL's own error
    /// is BoringSSL's code and a source path); nil for any other failure.
    static func certificateRefusal(_ error: (any Error)?) -> String? {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "the server's certificate does not name the host in the URL: check the host, and the certificate "
                + "(verify-ca, with an authority of the database's own in sslrootcert, does not check the name)"
        }
        if case .handshakeFailed(let cause)? = error as? NIOSSLError, "\(cause)".contains("CERTIFICATE_VERIFY_FAILED") {
            return "the server's certificate was refused: not signed by an authority in sslrootcert "
                + "(without it, the system's trust roots), or otherwise invalid (expired, for instance)"
        }
        return nil
    }
}

extension PostgresServiceStore {
    /// Runs `query` on a connection of the pool and reads its whole answer (so that its error is
    /// thrown here), failing rather than waiting forever if the connection closes first.
    fileprivate func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let guarded = self.guarded, logger = self.logger
        return try await client.withConnection { connection in try await guarded.rows(query, on: connection, logger: logger) }
    }
}

extension PostgresServiceStore {
    /// The deadline and the error of every call, and the log line when the database stops serving
    /// (unreachable, or answering that it cannot) or serves again: apart from the store, so that
    /// its group commit can use them.
    ///
    /// A failure of the whole store (no connection, no answer in time, a login refused, a server
    /// that takes no writes) is logged once, and its end once, whatever call meets it. A right
    /// refused (SQLSTATE class 42: a right taken away, a routine or table missing) is one part's:
    /// an upload's right taken away must not make every upload log the store gone and the next
    /// verify log it back. So each ``Part`` is logged once when one of its calls is refused, and
    /// once when every call refused has been served again; the server answered, so the store as a
    /// whole serves. A call that checks the part's rights (the readiness probe) also ends
    /// refusals, but only those it can see end, or the probe, served at its own rate, would log
    /// the part served again between two refused verifies:
    /// - a refusal of a call itself (a routine missing, or its `EXECUTE` or the schema's `USAGE`
    ///   refused), which is what the probe checks;
    /// - every refusal of the part, when the probe had itself been refused: it saw a right go and
    ///   come back, and a right it checks can be refused from within a routine too (a procedure
    ///   calls the functions that write);
    /// - otherwise never a refusal from within a routine (a column renamed by a schema out of
    ///   step, say), nor one that came again after a probe ended it, before its call was served
    ///   (a refusal taken for the probe's kind that may not be): each lasts until its call is
    ///   served, or until a probe that had itself been refused is served.
    ///
    /// So a refusal can be logged ended too soon, and then again, once: one the probe took for its
    /// kind, or one that lasted while a right the probe checks went and came back (or while two
    /// probes, one begun before a right went, ended in the other order). It cannot flap at the
    /// probe's rate. A refusal that only some requests meet (a fault in one branch of a routine)
    /// alternates with their calls served, as any call's does.
    final class Calls: Sendable {
        /// What a call serves, as its refusals are logged.
        enum Part: String, Sendable, Hashable {
            case verifies
            case uploads
            case attemptLog = "reads of the attempt log"
            case opening = "start-up checks and migrations"
        }

        /// A right the role lacks, found by a call of this store's own (the readiness probe's
        /// check of a verify's rights): logged as a refusal, like the server's own (42501).
        struct Refused: Error, CustomStringConvertible {
            let description: String
            init(_ description: String) { self.description = description }
        }

        /// How a call went, as the log sees it.
        private enum Outcome {
            /// Answered: a result, or the server's error about the request's own data.
            case served
            /// The database answers, but refuses the call a right or an object; `checkable` says
            /// whether the part's probe checks what was refused (``isRefusalOfCall(_:)``).
            case refused(String, checkable: Bool)
            /// The store cannot serve at all.
            case unreachable(String)
        }

        private struct State {
            /// Whether the store as a whole served its last call.
            var reachable = true
            /// The calls refused, by part and name, each with whether the part's probe checks what
            /// was refused: a part is refused while any of its calls is (a verify's calls need
            /// different rights: an accepted verdict's may be the one lost).
            var refused: [Part: [String: Bool]] = [:]
            /// The calls whose refusal a probe ended, by part, until each is served: refused again,
            /// the probe may not check what refused them.
            var endedByProbe: [Part: Set<String>] = [:]

            func isRefused(_ part: Part) -> Bool { !(refused[part] ?? [:]).isEmpty }
        }

        let location: PostgresLocation
        let logger: Logger
        /// Changes are logged once, not on every request.
        private let state = Locked(State())

        init(location: PostgresLocation, logger: Logger) {
            self.location = location
            self.logger = logger
        }

        /// Runs `body`, the call `what` for `part`, against the database within `deadline`. Any
        /// failure becomes an ``AttemptStoreError`` that names the database (never the password);
        /// a call that misses its deadline may still complete in the database, which for an
        /// attempt means counted, never lost. `checksPart` says that `body` succeeds only if every
        /// call of the part has its rights (the readiness probe), so that its success ends the
        /// part's refusals that it can see end (see ``Calls``).
        func call<T: Sendable>(
            _ what: String, for part: Part, checksPart: Bool = false, deadline: Duration,
            _ body: @escaping @Sendable () async throws -> T
        ) async throws(AttemptStoreError) -> T {
            let outcome = await Deadline.race(deadline) { try await body() }
            switch outcome {
            case .finished(let value):
                note(.served, of: what, for: part, checksPart: checksPart)
                return value
            case .failed(let error):
                let (reason, kind) = PostgresServiceStore.describe(error)
                let seen: Outcome =
                    Self.isRefusal(error)
                    ? .refused(reason, checkable: Self.isRefusalOfCall(error))
                    : PostgresServiceStore.isStatementError(error) ? .served : .unreachable(reason)
                note(seen, of: what, for: part, checksPart: false)
                throw AttemptStoreError("cannot \(what) in the PostgreSQL store at \(location): \(reason)", kind: kind)
            case .timedOut:
                note(.unreachable("no answer within \(deadline)"), of: what, for: part, checksPart: false)
                throw AttemptStoreError("cannot \(what) in the PostgreSQL store at \(location): no answer within \(deadline)", kind: .busy)
            }
        }

        /// Whether `error` is a refusal of one call (SQLSTATE class 42, or a right found missing)
        /// rather than of the store as a whole.
        static func isRefusal(_ error: any Error) -> Bool {
            let cause = PostgresServiceStore.rootCause(error)
            if cause is Refused { return true }
            return (cause as? PSQLError)?.serverInfo?[.sqlState]?.hasPrefix("42") ?? false
        }

        /// Whether `error` refuses the call itself, as a readiness probe checks: a routine missing
        /// (42883) or a right refused (42501) with no routine running (the server's `WHERE` field
        /// names one when the refusal came from within it), or a right the probe found missing.
        static func isRefusalOfCall(_ error: any Error) -> Bool {
            let cause = PostgresServiceStore.rootCause(error)
            if cause is Refused { return true }
            guard let info = (cause as? PSQLError)?.serverInfo, info[.locationContext] == nil else { return false }
            return [PostgresServiceStore.refusedRight, PostgresServiceStore.missingRoutine].contains(info[.sqlState])
        }

        private func note(_ outcome: Outcome, of what: String, for part: Part, checksPart: Bool) {
            // Logged under the lock, so that the lines come in the order of the changes they report.
            state.withLock { state in
                let wasReachable = state.reachable, wasRefused = state.isRefused(part)
                switch outcome {
                case .served:
                    state.reachable = true
                    let callWasRefused = state.refused[part]?.removeValue(forKey: what) != nil
                    if checksPart {
                        // A probe that was refused itself ends them all; otherwise those it checks.
                        let refused = state.refused[part] ?? [:]
                        let ended = callWasRefused ? refused : refused.filter(\.value)
                        state.refused[part] = refused.filter { ended[$0.key] == nil }
                        state.endedByProbe[part, default: []].formUnion(ended.keys)
                    } else {
                        state.endedByProbe[part]?.remove(what)
                    }
                case .refused(_, let checkable):
                    state.reachable = true
                    let again = state.endedByProbe[part]?.contains(what) ?? false
                    state.refused[part, default: [:]][what] = checkable && !again
                case .unreachable:
                    state.reachable = false
                }
                if state.reachable != wasReachable {
                    if case .unreachable(let reason) = outcome {
                        logger.warning(
                            "the PostgreSQL store cannot serve",
                            metadata: ["event": "store-unavailable", "store": "\(location)", "reason": "\(reason)"])
                    } else {
                        logger.info("the PostgreSQL store serves again", metadata: ["event": "store-available", "store": "\(location)"])
                    }
                }
                if state.isRefused(part) != wasRefused {
                    if case .refused(let reason, _) = outcome {
                        logger.warning(
                            "the PostgreSQL store cannot serve \(part.rawValue)",
                            metadata: [
                                "event": "store-unavailable", "store": "\(location)", "calls": "\(part.rawValue)", "reason": "\(reason)",
                            ])
                    } else {
                        logger.info(
                            "the PostgreSQL store serves \(part.rawValue) again",
                            metadata: ["event": "store-available", "store": "\(location)", "calls": "\(part.rawValue)"])
                    }
                }
            }
        }
    }
}
