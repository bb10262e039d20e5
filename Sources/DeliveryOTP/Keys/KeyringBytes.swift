#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Keyring {
    /// Parses and validates a keyring from the bytes of its file: keyring format v1
    /// (SPEC.md §4), or an encrypted keyring (SPEC.md §5) when `passphrase` is given.
    ///
    /// Nothing is written anywhere and no permission is checked (there is no file):
    /// where the bytes came from is the caller's to secure. The decrypted text lives
    /// only in a buffer that is wiped before this returns; the caller's `bytes` are
    /// left as they are (see ``SecretBuffer``).
    /// A passphrase given with plaintext bytes is not used: ``isEncrypted(_:)`` tells which the bytes are.
    /// - Throws: ``KeyringError/passphraseRequired`` for encrypted bytes without a passphrase,
    ///   ``KeyringError/wrongPassphrase`` when it does not open them, and the format's errors.
    public init(json bytes: some ContiguousBytes, passphrase: Passphrase? = nil) throws(KeyringError) {
        let result: Result<Keyring, KeyringError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(KeyringError) in try Self.open(buffer, passphrase: passphrase).keyring }
        }
        self = try result.get()
    }

    /// Parses plain or encrypted keyring bytes in place, and says which they were.
    static func open(_ buffer: UnsafeRawBufferPointer, passphrase: Passphrase?) throws(KeyringError) -> (keyring: Keyring, encrypted: Bool)
    {
        guard isEncrypted(buffer) else { return (try Keyring(parsing: buffer), false) }
        guard let passphrase else { throw .passphraseRequired }
        let keyring = try EncryptedKeyring.open(buffer, passphrase: passphrase) { (plaintext) throws(KeyringError) in
            try Keyring(parsing: plaintext)
        }
        return (keyring, true)
    }

    /// True when `bytes` are an encrypted keyring (their `format` is `delivery-otp-keyring-encrypted`),
    /// which needs a passphrase to open.
    public static func isEncrypted(_ bytes: some ContiguousBytes) -> Bool {
        bytes.withUnsafeBytes { buffer in
            let data = Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
                count: buffer.count, deallocator: .none)
            return (try? JSONDecoder().decode(FormatHeader.self, from: data))?.format == EncryptedKeyring.formatName
        }
    }

    /// Just the `format` member, to tell an encrypted keyring from a plain one.
    private struct FormatHeader: Decodable { var format: String? }

    /// Calls `body` with the keyring as format v1 JSON (secrets in base64), then wipes those bytes.
    /// The way to hand the plaintext to a secrets manager or a socket without leaving a copy.
    public func withJSON<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var text = jsonText()
        return try text.consumeTyped(body)
    }

    /// The keyring as format v1 JSON. The array holds every secret: wipe it with
    /// ``SecretBuffer`` when done, or use ``withJSON(_:)``.
    public func jsonBytes() -> [UInt8] {
        jsonText().bytes
    }

    /// The keyring encrypted with `passphrase` (SPEC.md §5: scrypt N = 2^17, r = 8, p = 1, and
    /// AES-256-GCM, with a fresh salt and nonce). The result holds no readable secret.
    /// The passphrase is not checked for length here; see ``Passphrase/checkLongEnough()``.
    public func sealed(passphrase: Passphrase) throws(KeyringError) -> [UInt8] {
        try withJSON { (plaintext) throws(KeyringError) in try EncryptedKeyring.seal(plaintext, passphrase: passphrase) }
    }
}
