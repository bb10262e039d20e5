import DeliveryOTP
import Foundation

/// Where the PostgreSQL store is: parsed from `postgres://USER@HOST:PORT/DATABASE?sslmode=MODE`.
///
/// The URL never carries the password (a command line is visible to every local user in
/// `/proc`): it comes from `PGPASSWORD` or a 0600 file. The description names user, host, port
/// and database only, so it is safe in logs and errors.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// How the connection to the database is protected.
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP. The default for a loopback host only.
        case disable
        /// TLS, without checking the server's certificate (as libpq's `require`).
        case require
        /// TLS, with the certificate checked against the system's trust roots (or `sslrootcert`) and
        /// the host name. The default for every host that is not loopback.
        case verifyFull = "verify-full"
    }

    /// The database role.
    public var user: String
    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The database.
    public var database: String
    /// TLS to the server.
    public var tls: TLSMode
    /// A PEM file of the certificate authorities to trust for `verify-full`, in place of the system's.
    public var rootCertificatePath: String?

    /// True when `text` names a PostgreSQL store rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full&sslrootcert=FILE]`.
    public init(_ text: String) throws(PostgresLocationError) {
        guard Self.isURL(text), let url = URLComponents(string: text) else {
            throw PostgresLocationError("not a PostgreSQL URL")
        }
        guard url.password == nil else {
            throw PostgresLocationError("the URL holds a password", hint: "remove it; set PGPASSWORD or use --database-password-file")
        }
        guard let user = url.user?.removingPercentEncoding, !user.isEmpty else {
            throw PostgresLocationError("the URL names no user", hint: "write postgres://USER@HOST:PORT/DATABASE")
        }
        guard let host = url.host?.removingPercentEncoding, !host.isEmpty, !host.hasPrefix("/") else {
            throw PostgresLocationError("the URL names no host", hint: "write postgres://USER@HOST:PORT/DATABASE")
        }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw PostgresLocationError("the port \(port) is out of range") }
        let path = url.path.removingPercentEncoding ?? ""
        let database = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresLocationError("the URL names no database", hint: "write postgres://USER@HOST:PORT/DATABASE")
        }
        self.user = user
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        self.database = database
        self.tls = Self.isLoopback(self.host) ? .disable : .verifyFull
        for item in url.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw PostgresLocationError(
                        "sslmode \((item.value ?? "").debugDescription) is not supported", hint: "use disable, require or verify-full")
                }
                tls = mode
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else { throw PostgresLocationError("sslrootcert names no file") }
                rootCertificatePath = value
            default:
                throw PostgresLocationError(
                    "the URL parameter \(item.name.debugDescription) is not supported", hint: "only sslmode and sslrootcert are")
            }
        }
    }

    /// `postgres://USER@HOST:PORT/DATABASE?sslmode=MODE`: no password, ever.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }

    /// True for `localhost` and the loopback addresses: `serve --listen` warns beyond them, and a
    /// PostgreSQL URL defaults to TLS beyond them.
    package static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A PostgreSQL URL that cannot be used, in one line.
public struct PostgresLocationError: DeliveryOTPError, Hashable {
    /// What is wrong.
    public let description: String
    /// How to fix it.
    public let hint: String?

    init(_ description: String, hint: String? = nil) {
        self.description = "invalid PostgreSQL URL: " + description
        self.hint = hint ?? "write postgres://USER@HOST:PORT/DATABASE?sslmode=require"
    }
}
