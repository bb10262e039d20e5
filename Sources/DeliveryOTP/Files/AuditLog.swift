#if canImport(Glibc)
    import Glibc
#endif

/// The keyring's audit trail: one JSON line per key operation appended to
/// `KEYRING.audit.jsonl` (mode 0600) and fsynced. It never holds a secret.
package struct AuditLog: Sendable {
    package let path: String

    package init(keyringPath: String) {
        path = keyringPath + ".audit.jsonl"
    }

    package struct Event: Sendable {
        package var operation: String
        package var keyID: KeyID?
        package var fingerprint: KeyFingerprint?
        package var details: [(String, String)]

        package init(operation: String, key: Keyring.Key? = nil, details: [(String, String)] = []) {
            self.operation = operation
            self.keyID = key?.id
            self.fingerprint = key.map { KeyFingerprint(of: $0.secret) }
            self.details = details
        }
    }

    /// Appends the events, one line each, and makes them durable.
    package func append(_ events: [Event], at time: Timestamp) throws(AtomicFile.WriteError) {
        let user = Self.userName()
        var text = ""
        for event in events {
            text += JSONText.line(
                [
                    ("time", time.description), ("operation", event.operation), ("keyId", event.keyID?.rawValue),
                    ("fingerprint", event.fingerprint?.description), ("user", user),
                ] + event.details.map { ($0.0, Optional($0.1)) })
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: path, code: errno) }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.WriteError(path: path, code: errno)
            }
            offset += written
        }
        guard fsync(fd) == 0 else { throw AtomicFile.WriteError(path: path, code: errno) }
    }

    /// The name of the effective user, or `uid N` when it has none.
    static func userName() -> String {
        let uid = geteuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(uid)"
    }
}
