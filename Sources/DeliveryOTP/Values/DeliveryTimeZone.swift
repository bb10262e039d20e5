import Foundation

/// A time zone from the tz database (`Europe/Berlin`), which decides when a
/// delivery day begins and ends in its region.
public struct DeliveryTimeZone: Hashable, Sendable, CustomStringConvertible {
    /// The tz database name, such as `Europe/Berlin` or `UTC`.
    public let identifier: String
    private let zone: TimeZone

    /// Accepts tz database names only (not abbreviations such as `CET`, which are ambiguous).
    public init(_ identifier: String) throws(TimeZoneError) {
        guard identifier.contains("/") || identifier == "UTC",
            let zone = TimeZone(identifier: identifier)
        else { throw TimeZoneError(identifier: identifier) }
        self.identifier = identifier
        self.zone = zone
    }

    /// The machine's own zone.
    public static var current: DeliveryTimeZone {
        (try? DeliveryTimeZone(TimeZone.current.identifier)) ?? (try! DeliveryTimeZone("UTC"))
    }

    /// The tz database name, the same as ``identifier``.
    public var description: String { identifier }

    /// The calendar date in this zone at `instant`. Instants parsed from text are within
    /// ``Timestamp/supportedRange``, where every zone's date exists; one built from raw
    /// seconds beyond it gets the first or last date there is, never a crash.
    public func date(at instant: Timestamp) -> DeliveryDate {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.secondsSinceEpoch))))
        let (sum, overflow) = instant.secondsSinceEpoch.addingReportingOverflow(offset)
        let local = overflow ? instant.secondsSinceEpoch : sum
        return DeliveryDate(daysSinceEpoch: Int(local.floorDiv(86_400)))
            ?? (local < 0 ? DeliveryDate.earliest : DeliveryDate.latest)
    }

    /// `instant` as RFC 3339 local time with this zone's offset, e.g. `2024-01-17T10:15:00+01:00`.
    public func format(_ instant: Timestamp) -> String {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.secondsSinceEpoch))))
        let (sum, overflow) = instant.secondsSinceEpoch.addingReportingOverflow(offset)
        let local = Timestamp(secondsSinceEpoch: overflow ? instant.secondsSinceEpoch : sum).description.dropLast()  // drop "Z"
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(local)\(sign)\(two(magnitude / 3600)):\(two(magnitude / 60 % 60))"
    }

    /// The last second of `date` in this zone: the second before the next local day begins,
    /// when a code for `date` stops being valid. ``format(_:)`` writes it as local time, e.g.
    /// `2024-01-17T23:59:59+01:00` for Berlin in winter. On a day whose clocks go back at
    /// midnight (America/Santiago, 2024-04-06) that is 23:59:59 with the later offset; where
    /// the next midnight does not exist, the day ends before 01:00.
    public func endOfDay(_ date: DeliveryDate) -> Timestamp {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // Noon of the next local day, then back to that day's first moment.
        let noonNext = Int64(date.daysSinceEpoch + 1) * 86_400 + 43_200
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(noonNext))))
        let nextStart = calendar.startOfDay(for: Date(timeIntervalSince1970: TimeInterval(noonNext - offset)))
        return Timestamp(secondsSinceEpoch: Int64(nextStart.timeIntervalSince1970.rounded(.down)) - 1)
    }
}

/// A time zone name that the tz database does not know, or an abbreviation or
/// POSIX-style name (`CET`, `GMT`, `EST5EDT`) that does not name one region's rules.
public struct TimeZoneError: DeliveryOTPError, Hashable {
    /// The name that was refused.
    public let identifier: String
    /// What is wrong, quoting the refused name.
    public var description: String {
        identifier.contains("/")
            ? "unknown time zone \(Printable.quoted(identifier))"
            : "\(Printable.quoted(identifier)) is not an IANA time zone name: abbreviations and POSIX names do not say which region's rules apply"
    }
    /// Names to use instead.
    public var hint: String? { "use an IANA time zone name such as Europe/Berlin, America/New_York or UTC" }
}

extension Timestamp {
    /// The current time from the system clock.
    public static var now: Timestamp {
        Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }
}
