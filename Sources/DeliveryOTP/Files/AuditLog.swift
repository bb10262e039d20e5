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
    ///
    /// Read with `getpwuid_r`: `serve` appends from concurrent requests (day-key exports), and
    /// `getpwuid` returns a record in storage that the C library shares between threads, which a
    /// second lookup may overwrite while the first is still being read.
    static func userName() -> String {
        let uid = geteuid()
        var size = 1024
        while size <= 1 << 20 {
            // The record's strings live in the buffer, so the name is copied out before it goes.
            let (status, name) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer -> (Int32, String?) in
                guard let base = buffer.baseAddress else { return (EINVAL, nil) }
                var entry = passwd()
                var found: UnsafeMutablePointer<passwd>? = nil
                let status = getpwuid_r(uid, &entry, base, size, &found)
                guard status == 0, found != nil, let name = entry.pw_name else { return (status, nil) }
                return (status, String(cString: name))
            }
            if let name { return name }
            guard status == ERANGE else { break }
            size *= 4
        }
        return "uid \(uid)"
    }
}
