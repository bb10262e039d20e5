/// A shipment ID as spec v1 accepts it: 1 to 64 ASCII characters from 0x21
/// to 0x7E, used verbatim and case-sensitively.
///
/// The bytes are stored inline (64 bytes, zero-padded), so an ID is a plain
/// value: copying one never allocates or touches a reference count, which
/// keeps the per-code path free of both.
public struct ShipmentID: Sendable, CustomStringConvertible {
    /// The longest shipment ID, in characters (bytes): 64.
    public static let maximumLength = 64

    private typealias Storage = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    private var storage: Storage = (0, 0, 0, 0, 0, 0, 0, 0)
    private var length: UInt8 = 0

    /// Parses an ID from outside; throws ``InputError/invalidShipmentID(_:reason:)`` with the exact problem.
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        if let problem = Self.problem(in: string.utf8, scalars: string.unicodeScalars) {
            throw .invalidShipmentID(string, reason: problem)
        }
        self.init(unchecked: string.utf8)
    }

    /// An ID from bytes that ``isValid(bytes:)`` accepted; nil otherwise.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard Self.isValid(bytes: bytes) else { return nil }
        self.init(unchecked: bytes)
    }

    private init(unchecked bytes: some Collection<UInt8>) {
        length = UInt8(bytes.count)
        withUnsafeMutableBytes(of: &storage) { destination in
            for (index, byte) in bytes.enumerated() { destination[index] = byte }
        }
    }

    /// Validates raw bytes (for example a CSV field) without building a String first.
    public static func isValid(bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 1 && bytes.count <= maximumLength else { return false }
        for byte in bytes where byte < 0x21 || byte > 0x7E { return false }
        return true
    }

    /// The ID as text; its UTF-8 bytes are the spec's `I`.
    public var rawValue: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    /// The ID as text, the same as ``rawValue``.
    public var description: String { rawValue }

    /// The number of characters (bytes), 1 to 64.
    public var count: Int { Int(length) }

    /// Calls `body` with the ID's bytes.
    @inline(__always)
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(length)])) }
    }

    private static func problem(in utf8: String.UTF8View, scalars: String.UnicodeScalarView) -> String? {
        if utf8.isEmpty { return "it is empty" }
        for (position, scalar) in scalars.enumerated() where scalar.value < 0x21 || scalar.value > 0x7E {
            let kind = scalar.value > 0x7E ? "non-ASCII character" : "character outside 0x21-0x7E"
            return "\(kind) \(Printable.describe(scalar)) at position \(position + 1)"
        }
        if utf8.count > maximumLength {
            return "it is \(utf8.count) characters long; the maximum is \(maximumLength)"
        }
        return nil
    }
}

extension ShipmentID: Hashable {
    /// Two IDs are equal when they have the same bytes (case-sensitive).
    public static func == (lhs: ShipmentID, rhs: ShipmentID) -> Bool {
        lhs.length == rhs.length
            && withUnsafeBytes(of: lhs.storage) { a in
                withUnsafeBytes(of: rhs.storage) { b in a.elementsEqual(b) }
            }
    }

    /// Hashes the ID's bytes.
    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }
}
