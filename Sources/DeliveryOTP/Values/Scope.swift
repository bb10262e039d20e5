/// The depot or region a parcel is delivered from (spec v1 `S`): 0 to 32
/// characters from `[A-Za-z0-9._-]`. The empty scope is the default.
public struct Scope: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The longest scope, in characters: 32.
    public static let maximumLength = 32
    /// The empty scope, the default when none is given.
    public static let empty = Scope(unchecked: "")

    /// The scope as text; its ASCII bytes are the spec's `S` (none for the empty scope).
    public let rawValue: String

    /// Checks a scope; the empty text gives ``empty``. Throws ``InputError/invalidScope(reason:)``
    /// when it is longer than 32 characters or has a character outside `[A-Za-z0-9._-]`.
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        for (position, scalar) in string.unicodeScalars.enumerated() where !Self.isAllowed(scalar) {
            throw .invalidScope(reason: "character \(Printable.describe(scalar)) at position \(position + 1) is not allowed")
        }
        if string.utf8.count > Self.maximumLength {
            throw .invalidScope(reason: "it is \(string.utf8.count) characters long; the maximum is \(Self.maximumLength)")
        }
        rawValue = string
    }

    private init(unchecked: String) { rawValue = unchecked }

    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }

    /// The scope as text, the same as ``rawValue`` (empty for the default scope).
    public var description: String { rawValue }
    /// Orders scopes by their text (ASCII order).
    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }
}
