@_spi(Tools) import DeliveryOTP
import Foundation

/// The tokens file: a JSON document (format `delivery-otp-tokens`, version 1) with one entry per
/// token, holding its name, role, scopes, device id, creation time and SHA-256 digest, never the token.
/// It is written atomically with mode 0600 under a lock, and every change goes to `FILE.audit.jsonl`.
public struct TokenFile: Sendable {
    static let formatName = "delivery-otp-tokens"
    static let version = 1

    /// The path as given.
    public let path: String

    /// The file at `path` (a symbolic link is followed when writing).
    public init(path: String) { self.path = path }

    private struct Document: Codable {
        var format: String
        var version: Int
        var example: Bool?
        var tokens: [Item]
    }

    private struct Item: Codable {
        var name: String
        var role: String
        var scopes: [String]
        var deviceId: String?
        var sha256: String
        var createdAt: String
    }

    /// Reads and validates the file. A missing file is an error: the service needs tokens.
    /// A file that group or others can read is refused, except the published example tokens
    /// (`"example": true`, readable by all in a fresh clone) when `exampleMayBeShared`.
    public func load(exampleMayBeShared: Bool = false) throws(TokenFileError) -> TokenTable {
        let result: Result<TokenTable, TokenFileError>
        do throws(FileReadError) {
            result = try SecretFile.withContents(of: path) { (bytes, permissions) throws(TokenFileError) -> TokenTable in
                let table = try Self.parse(bytes)
                guard SecretFile.isPrivate(permissions) || (table.isExample && exampleMayBeShared) else {
                    throw .readableByOthers(path: path, permissions: permissions)
                }
                return table
            }
        } catch {
            throw .unreadable(error)
        }
        return try result.get()
    }

    /// The table in a file's bytes.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(TokenFileError) -> TokenTable {
        switch JSONDuplicateMembers.check(bytes) {
        case .duplicate(let path)?: throw .invalid("the member \(path) is given twice")
        case .unreadable?: throw .invalid("not a JSON object in UTF-8")
        case nil: break
        }
        let document: Document
        do { document = try JSONDecoder().decode(Document.self, from: Data(bytes)) } catch {
            throw .invalid("not a tokens file (a member is missing or has the wrong type)")
        }
        guard document.format == formatName else { throw .invalid("format is \(document.format.debugDescription), not \(formatName)") }
        guard document.version == version else { throw .invalid("version \(document.version) is not supported (this release reads 1)") }
        var entries: [TokenEntry] = []
        for (index, item) in document.tokens.enumerated() {
            entries.append(try entry(item, index: index))
        }
        return try TokenTable(entries, isExample: document.example ?? false)
    }

    private static func entry(_ item: Item, index: Int) throws(TokenFileError) -> TokenEntry {
        let at = "tokens[\(index)]"
        guard let name = try? DeviceID(item.name) else { throw .invalid("\(at).name is not 1 to 64 characters from A-Z a-z 0-9 . _ -") }
        guard let role = Role(rawValue: item.role) else { throw .invalid("\(at).role is not issuer, courier, device or auditor") }
        var scopes: [Scope] = []
        for scope in item.scopes {
            guard let value = try? Scope(scope) else { throw .invalid("\(at).scopes has an invalid scope") }
            scopes.append(value)
        }
        var deviceID: DeviceID?
        if let text = item.deviceId {
            guard let value = try? DeviceID(text) else { throw .invalid("\(at).deviceId is invalid") }
            deviceID = value
        }
        guard let digest = Hex.decode(item.sha256), digest.count == SHA256Digest.byteCount else {
            throw .invalid("\(at).sha256 is not 64 lowercase hex digits")
        }
        guard let created = Timestamp(rfc3339: item.createdAt) else { throw .invalid("\(at).createdAt is not an RFC 3339 time") }
        return try TokenEntry(name: name, role: role, scopes: scopes, deviceID: deviceID, digest: digest, createdAt: created)
    }

    static func serialise(_ table: TokenTable) -> [UInt8] {
        let document = Document(
            format: formatName, version: version, example: table.isExample ? true : nil,
            tokens: table.entries.map { entry in
                Item(
                    name: entry.name.rawValue, role: entry.role.rawValue, scopes: entry.scopes.map(\.rawValue),
                    deviceId: entry.deviceID?.rawValue, sha256: Hex.encode(entry.digest), createdAt: entry.createdAt.description)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        return Array(try! encoder.encode(document)) + [UInt8(ascii: "\n")]
    }

    /// Adds a new token and returns it: the only time the token text exists outside the caller.
    /// Creates the file (mode 0600) when it does not exist.
    public func add(
        name: DeviceID, role: Role, scopes: [Scope], deviceID: DeviceID?, now: Timestamp
    ) throws(TokenFileError) -> (token: String, entry: TokenEntry) {
        let token: BearerToken
        do { token = try BearerToken.generate() } catch { throw .invalid("\(error)") }
        let entry = try TokenEntry(name: name, role: role, scopes: scopes, deviceID: deviceID, digest: token.digest, createdAt: now)
        try update(now: now, operation: "token-add", entry: entry) { (current: [TokenEntry]) throws(TokenFileError) in
            guard !current.contains(where: { $0.name == name }) else { throw .nameTaken(name.rawValue) }
            return current + [entry]
        }
        return (token.text, entry)
    }

    /// Removes the token named `name`; the service stops accepting it at its next reload.
    @discardableResult
    public func revoke(name: DeviceID, now: Timestamp) throws(TokenFileError) -> TokenEntry {
        var removed: TokenEntry?
        try update(now: now, operation: "token-revoke", entry: nil, name: name) { (current: [TokenEntry]) throws(TokenFileError) in
            guard let found = current.first(where: { $0.name == name }) else { throw .noSuchToken(name.rawValue) }
            removed = found
            return current.filter { $0.name != name }
        }
        return removed!
    }

    /// Under the file's lock: reads the current entries (none when the file is missing), applies
    /// `change`, writes the result atomically and durably, and appends one audit line.
    private func update(
        now: Timestamp, operation: String, entry: TokenEntry?, name: DeviceID? = nil,
        _ change: ([TokenEntry]) throws(TokenFileError) -> [TokenEntry]
    ) throws(TokenFileError) {
        let target = AtomicFile.resolved(path)
        let lock: FileLock
        do { lock = try FileLock(for: target) } catch { throw .writeFailed(error) }
        defer { withExtendedLifetime(lock) {} }
        var current = try TokenTable([])
        if access(target, F_OK) == 0 {
            current = try load()
        }
        let table = try TokenTable(try change(current.entries), isExample: current.isExample)
        let bytes = Self.serialise(table)
        let written: Result<Void, FileWriteError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(FileWriteError) in try AtomicFile.write(buffer, to: path, permissions: 0o600, mode: .replace) }
        }
        if case .failure(let error) = written { throw .writeFailed(error) }
        let subject = entry ?? current.entries.first { $0.name == name }
        var details: [(String, String)] = [("tokens", path)]
        if let subject {
            details += [("name", subject.name.rawValue), ("role", subject.role.rawValue)]
            if !subject.scopes.isEmpty { details.append(("scopes", subject.scopes.map(\.rawValue).joined(separator: ","))) }
            if let device = subject.deviceID { details.append(("deviceId", device.rawValue)) }
        }
        do {
            try AuditLog(keyringPath: target).append([AuditLog.Event(operation: operation, details: details)], at: now)
        } catch {
            throw .writeFailed(error)
        }
    }
}

/// Lowercase hex for digests.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
