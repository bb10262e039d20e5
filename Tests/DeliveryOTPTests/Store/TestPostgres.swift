import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The PostgreSQL server the tests use: the one `scripts/postgres-test-server start` printed
/// (`.ci/run` starts it and exports DELIVERY_OTP_TEST_POSTGRES and PGPASSWORD). Without it the
/// PostgreSQL variants are skipped, unless DELIVERY_OTP_REQUIRE_POSTGRES=1 (CI) makes that a failure.
enum TestPostgres {
    static let environment = ProcessInfo.processInfo.environment
    /// `postgres://delivery_otp_test@127.0.0.1:PORT/delivery_otp_test`, or nil.
    static let url = environment["DELIVERY_OTP_TEST_POSTGRES"]
    static let password = environment["PGPASSWORD"]
    static var isAvailable: Bool { url != nil }
    static var isRequired: Bool { environment["DELIVERY_OTP_REQUIRE_POSTGRES"] == "1" }

    /// A new, empty database on the test server (the test role may create databases), dropped by `drop`.
    static func freshDatabase() async throws -> PostgresLocation {
        let base = try PostgresLocation(url!)
        var location = base
        let name = "dotp_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        location.database = name
        try await admin(base) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        return location
    }

    /// A new database (see ``freshDatabase()``) that the test role has migrated, as its owner, to
    /// this release's schema.
    static func migratedDatabase() async throws -> PostgresLocation {
        let location = try await freshDatabase()
        do {
            try await PostgresServiceStore.open(location, password: password, attemptDeadline: .seconds(120), logger: quiet).close()
        } catch {
            await drop(location)
            throw error
        }
        return location
    }

    /// The error that opening the store at `location` as a replica would throw (as `password`'s
    /// role; the test role's by default), recorded as an issue where the caller is when it opens.
    static func refusal(
        opening location: PostgresLocation, password: String? = nil, migrate: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> PostgresStoreError? {
        await #expect(throws: PostgresStoreError.self, sourceLocation: sourceLocation) {
            try await PostgresServiceStore.open(
                location, password: password ?? Self.password, migrate: migrate, attemptDeadline: .seconds(120), logger: quiet
            ).close()
        }
    }

    private static let quiet = Logger(label: "test-postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Drops a database made by ``freshDatabase()``, closing what is still connected to it.
    ///
    /// `WITH (FORCE)` closes the tests' own sessions, but refuses while an autovacuum worker is in
    /// the database (the test role may not signal it); a plain `DROP DATABASE` ends such a worker
    /// itself, so it is the second try (as in `scripts/postgres-test-server drop`, which tries the
    /// two the other way round, since its callers have closed their sessions first).
    static func drop(_ location: PostgresLocation) async {
        guard let base = try? PostgresLocation(url!) else { return }
        try? await admin(base) { client in
            do {
                try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(location.database) WITH (FORCE)"))
            } catch {
                try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(location.database)"))
            }
        }
    }

    /// A connection of its own, as `location`'s user (the test role unless a test made another),
    /// to `location` (with `password`: a private server's, or another role's; else the shared
    /// server's); the caller closes it.
    ///
    /// Each connection is also kept until the process ends. A debug build of postgres-nio asserts
    /// that a connection is closed before it is deinitialized, so a test that threw before its
    /// `close()` ended the whole run (with no word of which test, or why) instead of failing.
    static func connect(_ location: PostgresLocation, password: String? = nil) async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: location.host, port: location.port, username: location.user, password: password ?? Self.password,
                database: location.database,
                tls: .disable),
            id: 1, logger: Logger(label: "test-postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        opened.withLock { $0.append(connection) }
        return connection
    }

    /// Every connection ``connect(_:password:)`` made (see there).
    private static let opened = Locked<[PostgresConnection]>([])

    /// The password of every role made by ``serviceRole(_:named:)``.
    static let servicePassword = "service-password"

    /// `location` as a new role named `prefix` and the database's name's end, given what
    /// docs/deployment.md gives the service's role (on the routines and tables there already).
    static func serviceRole(_ location: PostgresLocation, named prefix: String) async throws -> PostgresLocation {
        var service = location
        service.user = prefix + location.database.suffix(8)
        let role = service.user
        try await admin(location) { client in
            for statement in [
                "CREATE ROLE \(role) LOGIN PASSWORD '\(servicePassword)'", "GRANT CONNECT ON DATABASE \(location.database) TO \(role)",
                "GRANT USAGE ON SCHEMA delivery_otp TO \(role)", "GRANT SELECT ON ALL TABLES IN SCHEMA delivery_otp TO \(role)",
                "GRANT EXECUTE ON ALL ROUTINES IN SCHEMA delivery_otp TO \(role)",
            ] {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            }
        }
        return service
    }

    /// Runs `body` with a role made by ``serviceRole(_:named:)``, and drops the role after it, also
    /// when `body` throws (roles outlive a dropped database).
    static func withServiceRole(
        _ location: PostgresLocation, named prefix: String, _ body: (PostgresLocation) async throws -> Void
    ) async throws {
        let service = try await serviceRole(location, named: prefix)
        do {
            try await body(service)
        } catch {
            try? await dropServiceRole(service)
            throw error
        }
        try await dropServiceRole(service)
    }

    /// Drops a role made by ``serviceRole(_:named:)`` (roles outlive a dropped database).
    static func dropServiceRole(_ service: PostgresLocation) async throws {
        let role = service.user
        var owner = service
        owner.user = try PostgresLocation(url!).user
        try await admin(owner) { client in
            for statement in [
                "REVOKE ALL ON ALL TABLES IN SCHEMA delivery_otp FROM \(role)",
                "REVOKE ALL ON ALL ROUTINES IN SCHEMA delivery_otp FROM \(role)",
                "REVOKE USAGE ON SCHEMA delivery_otp FROM \(role)", "REVOKE CONNECT ON DATABASE \(service.database) FROM \(role)",
                "DROP ROLE \(role)",
            ] {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            }
        }
    }

    /// Runs `body` with a client connected as the test role to `location`.
    static func admin(_ location: PostgresLocation, _ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(
            configuration: .init(
                host: location.host, port: location.port, username: location.user, password: password, database: location.database,
                tls: .disable))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}

struct TestPostgresError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("The PostgreSQL test server")
struct TestPostgresTests {
    @Test(
        "is configured whenever CI requires it, so the PostgreSQL variants never skip silently",
        .enabled(if: TestPostgres.isRequired))
    func configuredWhenRequired() {
        #expect(TestPostgres.url != nil, "DELIVERY_OTP_REQUIRE_POSTGRES=1 but DELIVERY_OTP_TEST_POSTGRES is not set")
    }
}

/// A PostgreSQL server of a test's own (`scripts/postgres-test-server start`), for tests that stop
/// and restart the database: the shared one stays up for the tests that run beside them. The script
/// is awaited, never waited for on a thread of the test pool, which other tests' timers need.
final class PrivatePostgres: @unchecked Sendable {
    let url: String
    let password: String
    let folder: String
    var location: PostgresLocation { try! PostgresLocation(url) }

    private init(url: String, password: String, folder: String) {
        self.url = url
        self.password = password
        self.folder = folder
    }

    static func start() async throws -> PrivatePostgres {
        // Into a file, not a pipe: the server it starts would hold a pipe open, and reading it would never end.
        let output = try TemporaryDirectory()
        let outputPath = output.file("start.txt")
        let status = try await script(["start"], output: outputPath)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[String(pair[0])] = String(pair[1]) }
        }
        guard status == 0, let url = values["DELIVERY_OTP_TEST_POSTGRES"], let password = values["PGPASSWORD"],
            let folder = values["DELIVERY_OTP_TEST_POSTGRES_DIR"]
        else { throw TestPostgresError("postgres-test-server start failed: \(text)") }
        return PrivatePostgres(url: url, password: password, folder: folder)
    }

    /// Stops the server (fast shutdown: open connections are closed), keeping its data.
    func pause() async throws { try await run("pause") }
    /// Stops the server as a power cut would (`pg_ctl stop -m immediate`): it recovers from its WAL at the next start.
    func crash() async throws { try await run("crash") }
    /// Starts it again on the same port.
    func resume() async throws { try await run("resume") }
    /// Stops it and removes its folder; `deinit` does the same, unawaited, for a test that ended early.
    func stop() async throws {
        try await run("stop")
        stopped.withLock { $0 = true }
    }
    private let stopped = Locked(false)

    /// Sets a server setting (`ALTER SYSTEM`, as the superuser) and reloads the configuration.
    func set(_ name: String, _ value: String) async throws { try await run("set", name, value) }

    private func run(_ verb: String, _ arguments: String...) async throws {
        let status = try await Self.script([verb, folder] + arguments, output: nil)
        guard status == 0 else { throw TestPostgresError("postgres-test-server \(verb) exited \(status)") }
    }

    /// Runs scripts/postgres-test-server and awaits its exit status, off the test pool. It takes no
    /// turn: pausing or resuming the server must not queue behind other tests' children.
    private static func script(_ arguments: [String], output: String?) async throws -> Int32 {
        try await offPool(takingTurn: false) { try runScript(arguments, output: output) }
    }

    /// Runs the script to its end on the calling thread.
    private static func runScript(_ arguments: [String], output: String?) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Repository.path("scripts/postgres-test-server"))
        process.arguments = arguments
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: output)
        }
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        guard !stopped.withLock({ $0 }) else { return }
        // Stopped on a thread of its own, for the same reason; nothing waits for it.
        let folder = folder
        Thread.detachNewThread { _ = try? Self.runScript(["stop", folder], output: nil) }
    }
}
