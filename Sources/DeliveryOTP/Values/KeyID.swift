/// The name of a master key in a keyring, such as `k-2024-01-01-7f3a`:
/// 1 to 64 characters from `[A-Za-z0-9._-]`, so it is safe in files, logs and JSON.
public struct KeyID: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The longest key id, in characters: 64.
    public static let maximumLength = 64
    /// The id as text.
    public let rawValue: String

    /// Checks a key id. Throws ``InputError/invalidKeyID(reason:)`` when it is empty, longer
    /// than 64 characters, or has a character outside `[A-Za-z0-9._-]`.
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        if string.isEmpty { throw .invalidKeyID(reason: "it is empty") }
        for (position, scalar) in string.unicodeScalars.enumerated() where !Scope.isAllowed(scalar) {
            throw .invalidKeyID(reason: "character \(Printable.describe(scalar)) at position \(position + 1) is not allowed")
        }
        if string.utf8.count > Self.maximumLength {
            throw .invalidKeyID(reason: "it is \(string.utf8.count) characters long; the maximum is \(Self.maximumLength)")
        }
        rawValue = string
    }

    /// The id as text, the same as ``rawValue``.
    public var description: String { rawValue }
    /// Orders ids by their text (ASCII order).
    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.rawValue < rhs.rawValue }
}
