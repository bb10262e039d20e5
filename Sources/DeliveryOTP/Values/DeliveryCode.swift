/// A six-digit delivery code, `000000` to `999999`.
///
/// Codes are compared in constant time. Parsing what a person typed never
/// throws: anything but six ASCII digits (white space around them is ignored)
/// is simply not a code, and verification rejects it.
public struct DeliveryCode: Sendable, CustomStringConvertible {
    /// The number of digits in a code: 6.
    public static let digits = 6
    static let modulus: UInt32 = 1_000_000

    /// The code as a number below 1,000,000.
    public let value: UInt32

    /// A code from its numeric value; nil for a value of 1,000,000 or more.
    public init?(value: UInt32) {
        guard value < Self.modulus else { return nil }
        self.value = value
    }

    init(unchecked value: UInt32) { self.value = value }

    /// Parses typed input: exactly six ASCII digits, surrounding white space trimmed.
    public init?(typed text: some StringProtocol) {
        var value: UInt32 = 0
        var count = 0
        var seenTrailingSpace = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                if count > 0 { seenTrailingSpace = true }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !seenTrailingSpace, count < Self.digits else { return nil }
                value = value * 10 + UInt32(byte - UInt8(ascii: "0"))
                count += 1
            default:
                return nil
            }
        }
        guard count == Self.digits else { return nil }
        self.value = value
    }

    /// Exactly six digits, with leading zeros.
    public var description: String {
        var bytes = [UInt8](repeating: 0, count: Self.digits)
        writeDigits(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the six ASCII digits into the first six bytes of `buffer`.
    @inline(__always)
    public func writeDigits(into buffer: inout [UInt8], at offset: Int = 0) {
        var rest = value
        for index in stride(from: Self.digits - 1, through: 0, by: -1) {
            buffer[offset + index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}

extension DeliveryCode: Equatable {
    /// Constant time: no branch or early exit depends on either value.
    public static func == (lhs: DeliveryCode, rhs: DeliveryCode) -> Bool {
        ConstantTime.isEqual(lhs.value, rhs.value)
    }
}
