import DeliveryOTP
import FuzzSupport

/// Encrypted keyring files (SPEC.md §5) up to and through the cipher: an envelope that parses
/// writes itself out as bytes that parse to the same envelope; its ciphertext is opened with the
/// right key when the envelope is the seed's (`Fuzz/Corpus/keyring-envelope/sealed.json`, sealed
/// with the passphrase below), and with a wrong one otherwise, and opening never does more than
/// refuse. scrypt runs once, for the seed: per input it would take most of a second.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyringEnvelope(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    guard let envelope = try? EncryptedKeyring.Envelope(parsing: bytes) else { return 0 }
    let written = envelope.serialized()
    let again = written.withUnsafeBytes { try? EncryptedKeyring.Envelope(parsing: $0) }
    property(again == envelope, "a parsed envelope, written out, reads back differently")
    let isSeeds = envelope.kdf.salt == Seed.salt && envelope.kdf.n == 1 << 17 && envelope.kdf.r == 8 && envelope.kdf.p == 1
    let key = isSeeds ? Seed.key(envelope) : Seed.wrongKey
    let opened = Result { () throws(KeyringError) in
        try envelope.open(key: key) { (plaintext) throws(KeyringError) in try Keyring(json: plaintext) }
    }
    switch opened {
    case .success(let keyring):
        property(isSeeds && !keyring.keys.isEmpty, "a keyring opened with the wrong key, or without keys")
    case .failure(let error):
        if !isSeeds { property(error == .wrongPassphrase, "a wrong key gave \(error), not wrongPassphrase") }
    }
    return 0
}

/// The seed file's salt and passphrase; its key is derived once, the first time it is needed.
private enum Seed {
    static let salt = "dQ6tBtx+dwrArkgbRlLqGw=="
    static let wrongKey = SecretKey(copying: Array(repeating: UInt8(0x42), count: 32))
    nonisolated(unsafe) static var derived: SecretKey?

    static func key(_ envelope: EncryptedKeyring.Envelope) -> SecretKey {
        if let derived { return derived }
        let key = try! envelope.key(for: Passphrase("fuzzing fuzzing"))
        derived = key
        return key
    }
}
