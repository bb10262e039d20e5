/// A shipment ID as spec v1 accepts it: 1 to 64 ASCII characters from 0x21
/// to 0x7E, used verbatim and case-sensitively.
public struct ShipmentID: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 64

    /// The validated text; its UTF-8 bytes are the spec's `I`.
    public let rawValue: String

    /// Parses an ID from outside; throws ``InputError/invalidShipmentID(reason:)`` with the exact problem.
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        if let problem = Self.problem(in: string.utf8, scalars: string.unicodeScalars) {
            throw .invalidShipmentID(reason: problem)
        }
        rawValue = string
    }

    /// Validates raw bytes (for example a CSV field) without building a String first.
    public static func isValid(bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 1 && bytes.count <= maximumLength else { return false }
        for byte in bytes where byte < 0x21 || byte > 0x7E { return false }
        return true
    }

    public var description: String { rawValue }

    /// Calls `body` with the ID's bytes without copying them to the heap.
    @inline(__always)
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = rawValue.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var copy = rawValue
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
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
