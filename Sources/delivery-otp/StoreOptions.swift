import ArgumentParser
import DeliveryOTP
import DeliveryOTPServer
import Dispatch
import Foundation
import Logging

/// The service's attempt store: a SQLite file for one machine, or a PostgreSQL database for several replicas.
struct StoreOptions: ParsableArguments {
    static let passwordVariable = "PGPASSWORD"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The attempt store: a SQLite file (created mode 0600 if missing), or postgres://USER@HOST:PORT/DATABASE for several replicas.",
            valueName: "file-or-url"))
    var state: String = "delivery-otp-service.sqlite"

    @Option(
        name: .customLong("database-password-file"),
        help: ArgumentHelp("A file (mode 0600) whose first line is the PostgreSQL password. Or set PGPASSWORD.", valueName: "file"))
    var databasePasswordFile: String?

    func validate() throws {
        if databasePasswordFile != nil && !PostgresLocation.isURL(state) {
            throw ValidationError("--database-password-file is for a postgres:// --state only")
        }
    }

    /// The PostgreSQL location, or nil for a SQLite file.
    func location() throws -> PostgresLocation? {
        PostgresLocation.isURL(state) ? try PostgresLocation(state) : nil
    }

    /// The password: the file's first line, else `PGPASSWORD`, else none (trust or peer authentication).
    func password() throws -> String? {
        guard let path = databasePasswordFile else { return ProcessInfo.processInfo.environment[Self.passwordVariable] }
        let result: Result<String, CommandFailure>
        do {
            result = try SecretFile.withContents(of: path) { (bytes, permissions) throws(CommandFailure) -> String in
                guard SecretFile.isPrivate(permissions) else {
                    throw CommandFailure(
                        message: SecretFile.readableByOthers(path, permissions: permissions),
                        hint: "chmod 600 \(path)", exitCode: .permission)
                }
                var end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                guard end > 0, let text = String(validating: bytes[0..<end], as: UTF8.self) else {
                    throw CommandFailure(
                        message: "\(path) holds no password on its first line", hint: "write the password as the file's first line",
                        exitCode: .dataError)
                }
                return text
            }
        } catch {
            throw CommandFailure(message: "cannot read the database password: \(error)", hint: error.hint, exitCode: .usage)
        }
        return try result.get()
    }

    /// Opens the store (migrating a PostgreSQL schema that is behind), for `serve`; warns first when
    /// the connection to the database does not authenticate the server.
    func open(logger: Logger, onBatch: @escaping @Sendable (Int) -> Void) throws -> any ServiceStore {
        guard let location = try location() else { return try SQLiteServiceStore(path: state, onBatch: onBatch) }
        if location.isExposed {
            logger.warning(
                "the database's certificate is not checked (sslmode=\(location.tls.rawValue)): a machine in the middle could take the password; use sslmode=verify-full",
                metadata: ["event": "database-tls"])
        }
        let password = try password()
        return try Blocking.run { try await PostgresServiceStore.open(location, password: password, logger: logger, onBatch: onBatch) }
    }
}

/// Runs async work from a synchronous command (the main thread, never a cooperative-pool thread).
enum Blocking {
    private final class Box<T: Sendable>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}
