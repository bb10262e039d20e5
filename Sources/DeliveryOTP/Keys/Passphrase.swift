/// The passphrase that encrypts a keyring at rest. Held as secret bytes, wiped on release.
public struct Passphrase: Sendable {
    let secret: SecretKey

    /// A passphrase from text (for example the `DELIVERY_OTP_PASSPHRASE` variable).
    public init(_ text: String) throws(PassphraseError) {
        guard !text.isEmpty else { throw .empty }
        secret = SecretKey(copying: text.utf8)
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

public enum PassphraseError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case unreadable(SecretFile.ReadError)
    case readableByOthers(path: String, permissions: UInt32)
    case tooShort(Int)

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

    public var hint: String? {
        switch self {
        case .empty: "put the passphrase on the first line of the file"
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
