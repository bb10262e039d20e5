import Foundation

/// A time zone from the tz database (`Europe/Berlin`), which decides when a
/// delivery day begins and ends in its region.
public struct DeliveryTimeZone: Hashable, Sendable, CustomStringConvertible {
    public let identifier: String
    private let zone: TimeZone

    /// Accepts tz database names only (not abbreviations such as `CET`, which are ambiguous).
    public init(_ identifier: String) throws(TimeZoneError) {
        guard identifier.contains("/") || identifier == "UTC",
              let zone = TimeZone(identifier: identifier) else { throw TimeZoneError(identifier: identifier) }
        self.identifier = identifier
        self.zone = zone
    }

    /// The machine's own zone.
    public static var current: DeliveryTimeZone {
        (try? DeliveryTimeZone(TimeZone.current.identifier)) ?? (try! DeliveryTimeZone("UTC"))
    }

    public var description: String { identifier }

    /// The calendar date in this zone at `instant`.
    public func date(at instant: Timestamp) -> DeliveryDate {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.secondsSinceEpoch))))
        let local = instant.secondsSinceEpoch + offset
        return DeliveryDate(daysSinceEpoch: Int(local.floorDiv(86_400)))!
    }

    /// `instant` as RFC 3339 local time with this zone's offset, e.g. `2024-01-17T10:15:00+01:00`.
    public func format(_ instant: Timestamp) -> String {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.secondsSinceEpoch))))
        let local = Timestamp(secondsSinceEpoch: instant.secondsSinceEpoch + offset).description.dropLast()  // drop "Z"
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(local)\(sign)\(two(magnitude / 3600)):\(two(magnitude / 60 % 60))"
    }

    /// The last second of `date` in this zone, e.g. `2024-01-17T23:59:59+01:00` for Berlin in winter.
    public func endOfDay(_ date: DeliveryDate) -> String {
        let localEnd = Int64(date.daysSinceEpoch + 1) * 86_400 - 1
        // The offset in force at that local time: look it up at the instant the local time
        // would be with the offset of the local time read as UTC (right except within a transition hour).
        let guess = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(localEnd))))
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(localEnd - guess))))
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(date)T23:59:59\(sign)\(two(magnitude / 3600)):\(two(magnitude / 60 % 60))"
    }
}

/// A time zone name that the tz database does not know.
public struct TimeZoneError: Error, Sendable, Hashable, CustomStringConvertible {
    public let identifier: String
    public var description: String { "unknown time zone \(Printable.quoted(identifier))" }
    public var hint: String { "use a tz database name such as Europe/Berlin, America/New_York or UTC" }
}

extension Timestamp {
    /// The current time from the system clock.
    public static var now: Timestamp {
        Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }
}
