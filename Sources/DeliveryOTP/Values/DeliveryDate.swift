/// A delivery day in the proleptic Gregorian calendar, years 0001 to 9999.
///
/// Spec v1 encodes it as the 10 ASCII bytes `YYYY-MM-DD` (``asciiBytes``). Only
/// real dates exist: `2024-02-30` cannot be constructed.
public struct DeliveryDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    // Packed into four bytes so that rows of a large batch stay small.
    private let storedYear: UInt16
    private let storedMonth: UInt8
    private let storedDay: UInt8

    /// The year, 1 to 9999.
    public var year: Int { Int(storedYear) }
    /// The month, 1 to 12.
    public var month: Int { Int(storedMonth) }
    /// The day of the month, 1 to 31.
    public var day: Int { Int(storedDay) }

    /// A date from its parts. Throws ``InputError/invalidDate(_:reason:)`` when the year is not
    /// 1 to 9999, the month not 1 to 12, or the month has no such day (`2024-02-30`).
    public init(year: Int, month: Int, day: Int) throws(InputError) {
        // The text for a message is only built when there is something wrong.
        guard (1...9999).contains(year) else {
            throw .invalidDate(Self.format(year: year, month: month, day: day), reason: "the year must be 0001 to 9999")
        }
        guard (1...12).contains(month) else {
            throw .invalidDate(Self.format(year: year, month: month, day: day), reason: "there is no month \(month)")
        }
        let length = Self.daysIn(month: month, year: year)
        guard (1...length).contains(day) else {
            throw .invalidDate(
                Self.format(year: year, month: month, day: day),
                reason: "\(Self.monthNames[month - 1]) \(year) has \(length) days")
        }
        storedYear = UInt16(year)
        storedMonth = UInt8(month)
        storedDay = UInt8(day)
    }

    /// Parses `YYYY-MM-DD` from bytes (a manifest field) without building a String.
    public init(asciiBytes bytes: UnsafeRawBufferPointer) throws(InputError) {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else {
            throw .invalidDate(String(decoding: bytes, as: UTF8.self), reason: "expected YYYY-MM-DD")
        }
        @inline(__always) func digit(_ index: Int) -> Int? {
            let byte = bytes[index]
            return byte >= 48 && byte <= 57 ? Int(byte - 48) : nil
        }
        guard let y0 = digit(0), let y1 = digit(1), let y2 = digit(2), let y3 = digit(3),
            let m0 = digit(5), let m1 = digit(6), let d0 = digit(8), let d1 = digit(9)
        else {
            throw .invalidDate(String(decoding: bytes, as: UTF8.self), reason: "expected YYYY-MM-DD with digits only")
        }
        do { try self.init(year: y0 * 1000 + y1 * 100 + y2 * 10 + y3, month: m0 * 10 + m1, day: d0 * 10 + d1) } catch {
            if case .invalidDate(_, let reason) = error { throw .invalidDate(String(decoding: bytes, as: UTF8.self), reason: reason) }
            throw error
        }
    }

    /// Parses exactly `YYYY-MM-DD` (ten characters, ASCII digits, hyphens).
    public init(_ text: some StringProtocol) throws(InputError) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else {
            throw .invalidDate(String(text), reason: "expected YYYY-MM-DD")
        }
        func number(_ range: Range<Int>) throws(InputError) -> Int {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                    throw .invalidDate(String(text), reason: "expected YYYY-MM-DD with digits only")
                }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let year = try number(0..<4), month = try number(5..<7), day = try number(8..<10)
        do {
            try self.init(year: year, month: month, day: day)
        } catch {
            // Keep the user's own spelling in the message.
            if case .invalidDate(_, let reason) = error { throw .invalidDate(String(text), reason: reason) }
            throw error
        }
    }

    /// The length of ``asciiBytes``.
    public static let encodedLength = 10

    /// The spec's `D`: `YYYY-MM-DD` as 10 ASCII bytes.
    public var asciiBytes: [UInt8] { Array(description.utf8) }

    /// The date as `YYYY-MM-DD`, zero-padded.
    public var description: String { Self.format(year: year, month: month, day: day) }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` later (earlier when negative); nil outside years 0001 to 9999.
    public func adding(days: Int) -> DeliveryDate? {
        DeliveryDate(daysSinceEpoch: daysSinceEpoch + days)
    }

    /// 0001-01-01, the first date there is.
    public static let earliest = DeliveryDate(daysSinceEpoch: -719_162)!
    /// 9999-12-31, the last date there is.
    public static let latest = DeliveryDate(daysSinceEpoch: 2_932_896)!

    /// The date that is `days` after 1970-01-01; nil outside years 0001 to 9999.
    public init?(daysSinceEpoch days: Int) {
        guard (-719_162...2_932_896).contains(days) else { return nil }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard let date = try? DeliveryDate(year: year, month: month, day: day) else { return nil }
        self = date
    }

    /// Earlier dates come first.
    public static func < (lhs: DeliveryDate, rhs: DeliveryDate) -> Bool {
        (lhs.storedYear, lhs.storedMonth, lhs.storedDay) < (rhs.storedYear, rhs.storedMonth, rhs.storedDay)
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static let monthNames = [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ]

    private static func format(year: Int, month: Int, day: Int) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}
