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
        /// TLS, without checking the server's certificate (as libpq's `require` without a root
        /// certificate): no one can read the traffic, but a machine in the middle can pose as the
        /// server and take the password.
        case require
        /// TLS, with the certificate checked against the system's trust roots (or `sslrootcert`) and
        /// the host name. The default for every host that is not loopback.
        case verifyFull = "verify-full"
        /// TLS, with the certificate checked against `sslrootcert` but not the host name: for a
        /// server whose certificate does not name the address the replicas use. It needs
        /// `sslrootcert`, the operator's own authority: with the system's trust roots, any
        /// certificate that any public authority signed for any name would pass.
        case verifyCA = "verify-ca"

        /// True when the server's certificate is checked.
        var checksCertificate: Bool { self == .verifyFull || self == .verifyCA }
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
    /// A PEM file of the certificate authorities to trust for `verify-full` (in place of the
    /// system's) or `verify-ca` (which needs it).
    public var rootCertificatePath: String?

    /// True when `text` is a URL (it holds `://`, or starts with a scheme and a colon) rather than
    /// a SQLite file's path.
    ///
    /// Any URL, not only a `postgres://` one: a mistyped one (`Postgres://`, `postgresql+ssl://`,
    /// `postgres:/`) taken for a file's path would be repeated, password and all, in the error
    /// that the file cannot be created. ``init(_:)`` refuses what is not PostgreSQL's, without
    /// repeating it. A file whose name starts so is written `./NAME`.
    public static func isURL(_ text: String) -> Bool {
        if text.contains("://") { return true }
        guard let colon = text.firstIndex(of: ":") else { return false }
        let scheme = text[..<colon]
        return scheme.first?.isLetter == true
            && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }
    }

    /// Parses `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-ca|verify-full&sslrootcert=FILE]`.
    public init(_ text: String) throws(PostgresLocationError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw PostgresLocationError("the text is not a valid URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresLocationError(
                "the scheme is not postgres or postgresql",
                hint: "write postgres://USER@HOST:PORT/DATABASE, or ./NAME for a SQLite file whose name has a colon")
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
                        "sslmode \((item.value ?? "").debugDescription) is not supported",
                        hint: "use disable, require, verify-ca or verify-full")
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
        // libpq would check the certificate against the file even with `require`; here `require`
        // checks nothing, so a file given with it would be a protection that is not there.
        if rootCertificatePath != nil && !tls.checksCertificate {
            throw PostgresLocationError(
                "sslrootcert is used only with sslmode=verify-full or verify-ca",
                hint: "write sslmode=verify-full with sslrootcert, or remove sslrootcert")
        }
        if tls == .verifyCA && rootCertificatePath == nil {
            throw PostgresLocationError(
                "sslmode=verify-ca needs sslrootcert: with the system's trust roots, any publicly signed certificate would pass",
                hint: "add sslrootcert=FILE, the PEM file of the authority that signed the server's certificate, or use verify-full")
        }
    }

    /// True when the connection's TLS does not authenticate the server and the server is not on
    /// this machine: a machine in the middle could then read the password. `serve` warns of it.
    public var isExposed: Bool {
        !tls.checksCertificate && !Self.isLoopback(host)
    }

    /// `postgres://USER@HOST:PORT/DATABASE?sslmode=MODE`: no password, ever.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }

    /// True for `localhost` and the loopback addresses (127.0.0.0/8 and ::1, written as addresses):
    /// `serve --listen` warns beyond them, and a PostgreSQL URL defaults to TLS beyond them. A host
    /// name that merely starts with `127.` (`127.db.example.net`) is not loopback.
    package static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
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
        self.hint = hint ?? "write postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full"
    }
}
