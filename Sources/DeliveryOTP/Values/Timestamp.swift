/// An instant as RFC 3339 text (`2023-12-20T10:00:00Z`, `2024-01-17T23:59:59+01:00`),
/// kept as whole seconds since 1970-01-01T00:00:00Z. Fractions of a second are accepted and dropped.
public struct Timestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    public let secondsSinceEpoch: Int64

    /// An instant from raw seconds since the epoch; the value is kept as given, even outside
    /// ``supportedRange``.
    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The instants text may name: 0001-01-02T00:00:00Z to 9999-12-30T23:59:59Z, so that the
    /// date at any of them, in any time zone, is a date from 0001-01-01 to 9999-12-31.
    public static let supportedRange: ClosedRange<Int64> = (-719_161 * 86_400)...(2_932_896 * 86_400 - 1)

    /// Parses RFC 3339 `date-time`; nil for anything else, and for an instant outside ``supportedRange``.
    public init?(rfc3339 text: some StringProtocol) {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= b.count else { return nil }
            var value = 0
            for byte in b[start..<(start + count)] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let date = try? DeliveryDate(String(decoding: b[0..<10], as: UTF8.self)),
            b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            let hour = digits(11, 2), b[13] == UInt8(ascii: ":"),
            let minute = digits(14, 2), b[16] == UInt8(ascii: ":"),
            let second = digits(17, 2),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if index < b.count && b[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < b.count && b[index] >= 48 && b[index] <= 57 { index += 1 }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetSeconds = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let oh = digits(index + 1, 2), index + 3 < b.count, b[index + 3] == UInt8(ascii: ":"),
                let om = digits(index + 4, 2), oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == b.count else { return nil }
        let local = Int64(date.daysSinceEpoch) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59))
        let instant = local - Int64(offsetSeconds)
        guard Self.supportedRange.contains(instant) else { return nil }
        secondsSinceEpoch = instant
    }

    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    public var description: String {
        let days = Int(secondsSinceEpoch.floorDiv(86_400))
        let seconds = Int(secondsSinceEpoch - Int64(days) * 86_400)
        let date = DeliveryDate(daysSinceEpoch: days).map(\.description) ?? "????-??-??"
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(date)T\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))Z"
    }

    /// The UTC calendar date of this instant.
    public var utcDate: DeliveryDate? {
        DeliveryDate(daysSinceEpoch: Int(secondsSinceEpoch.floorDiv(86_400)))
    }

    /// Earlier instants come first.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSinceEpoch < rhs.secondsSinceEpoch }
}

extension Int64 {
    func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
