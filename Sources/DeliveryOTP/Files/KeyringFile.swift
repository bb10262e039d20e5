import Foundation

/// A keyring on disk: reading with permission checks and optional decryption,
/// and locked, atomic, audited updates.
package struct KeyringFile: Sendable {
    /// The path as the user gave it, for messages.
    package let path: String
    /// The file itself, resolved once: when `path` is a symbolic link, updates write,
    /// lock and audit the file it points to, and the link stays a link.
    package let target: String

    package init(path: String) {
        self.path = path
        self.target = AtomicFile.resolved(path)
    }

    package var auditLog: AuditLog { AuditLog(keyringPath: target) }

    /// A keyring as read, with what the reader should be told.
    package struct Loaded: Sendable {
        package let keyring: Keyring
        package let isEncrypted: Bool
        /// Warnings for the user (the example-keys warning).
        package let warnings: [String]
    }

    /// The warning printed whenever the published example keys are used.
    package static let exampleWarning = "example keys: never use them in production"

    /// Reads and validates the keyring. A file that group or others can read is
    /// refused; with `exampleMayBeShared`, a file marked as an example (the published
    /// keys, readable by all in a fresh clone) only warns. An encrypted file needs `passphrase`.
    package func load(passphrase: Passphrase?, exampleMayBeShared: Bool = false) throws(KeyringFileError) -> Loaded {
        let outcome: Result<Loaded, KeyringFileError>
        do throws(SecretFile.ReadError) {
            // The resolved target, the same file update() locks and writes.
            outcome = try SecretFile.withContents(of: target) { (bytes, permissions) throws(KeyringFileError) -> Loaded in
                let keyring: Keyring, encrypted: Bool
                do throws(KeyringError) {
                    (keyring, encrypted) = try Keyring.open(bytes, passphrase: passphrase)
                } catch {
                    throw error == .passphraseRequired ? .encrypted(path: path) : Self.fileError(error, path: path)
                }
                if !SecretFile.isPrivate(permissions) && !(keyring.isExample && exampleMayBeShared) {
                    throw .readableByOthers(path: path, permissions: permissions)
                }
                let warnings = keyring.isExample ? [Self.exampleWarning] : []
                return Loaded(keyring: keyring, isEncrypted: encrypted, warnings: warnings)
            }
        } catch {
            throw .unreadable(SecretFile.ReadError(path: path, reason: error.reason))  // the path as the user gave it
        }
        return try outcome.get()
    }

    /// Writes a new keyring file, mode 0600. An existing file is never overwritten
    /// unless `replaceExisting`; then it is kept as `PATH.replaced-TIME`, never deleted.
    @discardableResult
    package func create(
        _ keyring: Keyring, passphrase: Passphrase?, replaceExisting: Bool, now: Timestamp,
        audit: [AuditLog.Event]
    ) throws(KeyringFileError) -> String? {
        let lock: FileLock
        do { lock = try FileLock(for: target) } catch { throw .writeFailed(error) }
        defer { withExtendedLifetime(lock) {} }
        var keptAs: String?
        if replaceExisting {
            do { keptAs = try AtomicFile.keepCopy(of: target, now: now) } catch { throw .writeFailed(error) }
        }
        try write(keyring, passphrase: passphrase, mode: replaceExisting ? .replace : .createNew)
        try appendAudit(audit, now: now)
        return keptAs
    }

    /// Reads, changes and writes the keyring under an exclusive lock, so that
    /// concurrent updates are serialised and none is lost. Encryption is kept
    /// as it was (with a fresh salt and nonce); ``setEncryption(_:passphrase:now:)`` changes it.
    @discardableResult
    package func update(
        passphrase: Passphrase?, now: Timestamp,
        _ change: (Keyring) throws(KeyringFileError) -> (Keyring, [AuditLog.Event])
    )
        throws(KeyringFileError) -> Keyring
    {
        let lock: FileLock
        do { lock = try FileLock(for: target) } catch { throw .writeFailed(error) }
        defer { withExtendedLifetime(lock) {} }
        let loaded = try load(passphrase: passphrase)
        let (updated, events) = try change(loaded.keyring)
        try write(updated, passphrase: loaded.isEncrypted ? passphrase : nil, mode: .replace)
        try appendAudit(events, now: now)
        return updated
    }

    /// Encrypts (`true`) or decrypts (`false`) the keyring at rest under the lock, reading it
    /// once; false, with nothing written or audited, when it already is that way.
    package func setEncryption(_ encrypt: Bool, passphrase: Passphrase?, now: Timestamp) throws(KeyringFileError) -> Bool {
        let lock: FileLock
        do { lock = try FileLock(for: target) } catch { throw .writeFailed(error) }
        defer { withExtendedLifetime(lock) {} }
        let loaded = try load(passphrase: passphrase)
        guard loaded.isEncrypted != encrypt else { return false }
        try write(loaded.keyring, passphrase: encrypt ? passphrase : nil, mode: .replace)
        try appendAudit([AuditLog.Event(operation: encrypt ? "encrypt" : "decrypt")], now: now)
        return true
    }

    private func write(_ keyring: Keyring, passphrase: Passphrase?, mode: AtomicFile.Mode) throws(KeyringFileError) {
        if let passphrase {
            let sealed: [UInt8]
            do throws(KeyringError) { sealed = try keyring.sealed(passphrase: passphrase) } catch {
                throw Self.fileError(error, path: path)
            }
            try sealed.withUnsafeBytes { bytes in Result { () throws(KeyringFileError) in try writeFile(bytes, mode: mode) } }.get()
        } else {
            try keyring.withJSON { (bytes) throws(KeyringFileError) in try writeFile(bytes, mode: mode) }
        }
    }

    /// A keyring error from the bytes API, as a file error naming `path`.
    private static func fileError(_ error: KeyringError, path: String) -> KeyringFileError {
        switch error {
        case .wrongPassphrase: .wrongPassphrase(path: path)
        case .encryptionFailed(let reason): .encryption(reason)
        case .randomSourceFailed: .random
        default: .invalid(path: path, error)
        }
    }

    private func writeFile(_ bytes: UnsafeRawBufferPointer, mode: AtomicFile.Mode) throws(KeyringFileError) {
        do { try AtomicFile.write(bytes, to: target, permissions: 0o600, mode: mode) } catch {
            throw error.alreadyExists ? .exists(path: path) : .writeFailed(error)
        }
    }

    private func appendAudit(_ events: [AuditLog.Event], now: Timestamp) throws(KeyringFileError) {
        guard !events.isEmpty else { return }
        do { try auditLog.append(events, at: now) } catch { throw .auditFailed(error) }
    }
}

/// Why a keyring file could not be read or written. Never contains a secret.
package enum KeyringFileError: DeliveryOTPError {
    case unreadable(SecretFile.ReadError)
    case invalid(path: String, KeyringError)
    case readableByOthers(path: String, permissions: UInt32)
    case encrypted(path: String)
    case wrongPassphrase(path: String)
    case exists(path: String)
    case writeFailed(AtomicFile.WriteError)
    case auditFailed(AtomicFile.WriteError)
    case lifecycle(KeyringError)
    case random
    /// scrypt or AES-GCM failed inside OpenSSL (not a wrong passphrase: that is ``wrongPassphrase(path:)``).
    case encryption(String)

    package var description: String {
        switch self {
        case .unreadable(let error): error.description
        case .invalid(let path, let error): "\(path): \(error)"
        case .readableByOthers(let path, let permissions):
            SecretFile.readableByOthers(path, permissions: permissions)
        case .encrypted(let path): "\(path) is encrypted and no passphrase was given"
        case .wrongPassphrase(let path): "wrong passphrase for \(path) (or the file was altered); nothing was changed"
        case .exists(let path): "\(path) already exists"
        case .writeFailed(let error): error.description
        case .auditFailed(let error): "the keyring was updated but its audit log was not: \(error)"
        case .lifecycle(let error): error.description
        case .random: "the system's secure random source (OpenSSL) failed"
        case .encryption(let reason): reason
        }
    }

    package var hint: String? {
        switch self {
        case .unreadable(let error): error.hint
        case .invalid(_, let error), .lifecycle(let error): error.hint
        case .readableByOthers(let path, _): "chmod 600 \(path)"
        case .encrypted: "give --passphrase-file FILE or set DELIVERY_OTP_PASSPHRASE"
        case .wrongPassphrase: "check the passphrase"
        case .exists: "use --force to replace it (the old file is kept beside it)"
        case .writeFailed, .auditFailed, .random: nil
        case .encryption: "check that the machine has memory to spare (scrypt needs 128 MiB and more)"
        }
    }
}
