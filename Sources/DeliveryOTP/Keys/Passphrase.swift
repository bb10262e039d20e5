/// The passphrase that encrypts a keyring at rest. Held as secret bytes, wiped on release.
public struct Passphrase: Sendable {
    let secret: SecretKey

    /// A passphrase from text (for example the `DELIVERY_OTP_PASSPHRASE` variable).
    public init(_ text: String) throws(PassphraseError) {
        guard !text.isEmpty else { throw .empty }
        secret = SecretKey(copying: text.utf8)
    }

    /// A passphrase from bytes (from a secrets manager or a keychain); the caller's copy is left
    /// as it is (see ``SecretBuffer``). Empty is ``PassphraseError/empty``.
    public init(bytes: some Collection<UInt8>) throws(PassphraseError) {
        guard !bytes.isEmpty else { throw .empty }
        secret = SecretKey(copying: bytes)
    }

    /// The shortest passphrase that encrypts a keyring: scrypt slows guessing, it cannot make a short passphrase strong.
    public static let minimumLength = 12

    /// Refuses a passphrase shorter than ``minimumLength`` bytes, for encrypting (never for opening an existing file).
    public func checkLongEnough() throws(PassphraseError) {
        guard secret.byteCount >= Self.minimumLength else { throw .tooShort(secret.byteCount) }
    }

    /// Reads the first line of a private file (mode 0600); the line end is not part of it.
    public init(file path: String) throws(PassphraseError) {
        let result: Result<SecretKey, PassphraseError>
        do {
            result = try SecretFile.withContents(of: path) { (bytes, permissions) throws(PassphraseError) -> SecretKey in
                guard SecretFile.isPrivate(permissions) else { throw .readableByOthers(path: path, permissions: permissions) }
                var end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                guard end > 0 else { throw .empty }
                return SecretKey(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
            }
        } catch {
            throw .unreadable(error)
        }
        secret = try result.get()
    }
}

/// Why a passphrase cannot be used.
public enum PassphraseError: DeliveryOTPError, Hashable {
    /// No bytes at all (or an empty first line in a file).
    case empty
    /// The passphrase file could not be read.
    case unreadable(FileReadError)
    /// The passphrase file can be read by group or others.
    case readableByOthers(path: String, permissions: UInt32)
    /// Shorter than ``Passphrase/minimumLength`` bytes, for encrypting.
    case tooShort(Int)

    /// One line for a person.
    public var description: String {
        switch self {
        case .empty: "the passphrase is empty"
        case .unreadable(let error): "passphrase file: \(error)"
        case .readableByOthers(let path, let permissions):
            SecretFile.readableByOthers(path, permissions: permissions)
        case .tooShort(let count):
            "the passphrase is \(count) bytes long; a keyring is encrypted only with \(Passphrase.minimumLength) or more"
        }
    }

    /// How to fix it.
    public var hint: String? {
        switch self {
        case .empty: "give a passphrase (in a file, on its first line)"
        case .unreadable(let error): error.hint
        case .readableByOthers(let path, _): "chmod 600 \(path)"
        case .tooShort: "choose a longer passphrase, such as four random words"
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
