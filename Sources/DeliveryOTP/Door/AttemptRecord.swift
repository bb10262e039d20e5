#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One line of the attempt log. It never holds the typed code or any key.
///
/// Its JSON form (``jsonLine``, and `Codable` with the same member names) is the
/// upload format of `delivery-otp attempts export`: one object per line, members
/// `time` (RFC 3339, UTC), `shipmentId`, `deliveryDate`, `scope`, `outcome`,
/// `attempt` (a number or null) and `deviceId` (a name or null).
public struct AttemptRecord: Sendable, Hashable {
    /// What became of the attempt.
    public enum Outcome: String, Sendable, Codable {
        /// Counted, but the process ended before the verdict was stored (a crash or a kill).
        case interrupted
        /// The code was right; the parcel was handed over.
        case accepted
        /// The code was wrong.
        case rejected
        /// The limit was reached; the code was not looked at.
        case locked
        /// The shipment had been handed over earlier that day; the code was not looked at.
        case alreadyAccepted = "already-accepted"
    }

    /// When the attempt began, by the device clock.
    public var time: Timestamp
    /// The shipment the code was typed for.
    public var shipment: ShipmentID
    /// The delivery date the attempt counts against.
    public var date: DeliveryDate
    /// The scope of the device's keys.
    public var scope: Scope
    /// What became of it.
    public var outcome: Outcome
    /// The attempt's number among counted attempts; nil for locked and already-accepted tries.
    public var attempt: Int?
    /// The device that recorded it, when it has a name.
    public var deviceID: DeviceID?

    /// A record from its parts; stores build these from their rows.
    public init(
        time: Timestamp, shipment: ShipmentID, date: DeliveryDate, scope: Scope, outcome: Outcome,
        attempt: Int?, deviceID: DeviceID?
    ) {
        self.time = time
        self.shipment = shipment
        self.date = date
        self.scope = scope
        self.outcome = outcome
        self.attempt = attempt
        self.deviceID = deviceID
    }

    /// The record as one line of JSON, members in the documented order, ending in `\n`.
    public var jsonLine: String {
        JSONText.line(scalars: [
            ("time", .string(time.description)), ("shipmentId", .string(shipment.rawValue)),
            ("deliveryDate", .string(date.description)), ("scope", .string(scope.rawValue)),
            ("outcome", .string(outcome.rawValue)), ("attempt", attempt.map { .integer($0) } ?? .null),
            ("deviceId", deviceID.map { .string($0.rawValue) } ?? .null),
        ])
    }

    /// Reads an uploaded log: one record per line (LF or CR LF), blank lines ignored. Every field is
    /// validated as when it was written; the first bad line stops the read.
    public static func records(jsonLines text: some StringProtocol) throws(AttemptLogError) -> [AttemptRecord] {
        let decoder = JSONDecoder()
        var records: [AttemptRecord] = []
        // Split on the byte LF: in Swift's String, CR LF is one Character, so a split on "\n" would miss it.
        for (index, line) in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.last == 0x0D ? line.dropLast() : line
            if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            // As for every JSON document read from outside: a member given twice has no agreed
            // meaning (Foundation's decoder keeps the first), so it is refused, not guessed.
            let finding = trimmed.withUnsafeBytes { JSONDuplicateMembers.check($0) }
            switch finding {
            case .duplicate(let path): throw AttemptLogError(line: index + 1, reason: "the member \(path) is given twice")
            case .unreadable: throw AttemptLogError(line: index + 1, reason: "not one JSON object")
            case nil: break
            }
            do {
                records.append(try decoder.decode(AttemptRecord.self, from: Data(trimmed)))
            } catch {
                let path = DecodingErrorText.path(of: error, root: "")
                let reason = path.isEmpty ? "not one JSON object" : "\(path): \(DecodingErrorText.describe(error))"
                throw AttemptLogError(line: index + 1, reason: reason)
            }
        }
        return records
    }
}

extension AttemptRecord: Codable {
    private enum CodingKeys: String, CodingKey {
        case time, shipmentId, deliveryDate, scope, outcome, attempt, deviceId
    }

    /// Decodes and validates each member; a bad value is a `DecodingError.dataCorrupted`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func field<T>(_ key: CodingKeys, _ parse: (String) throws -> T?) throws -> T {
            let text = try container.decode(String.self, forKey: key)
            guard let value = try? parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [key], debugDescription: "invalid \(key.rawValue)"))
            }
            return value
        }
        time = try field(.time) { Timestamp(rfc3339: $0) }
        shipment = try field(.shipmentId) { try ShipmentID($0) }
        date = try field(.deliveryDate) { try DeliveryDate($0) }
        scope = try field(.scope) { try Scope($0) }
        outcome = try container.decode(Outcome.self, forKey: .outcome)
        attempt = try container.decodeIfPresent(Int.self, forKey: .attempt)
        if let attempt, attempt < 1 {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.attempt], debugDescription: "attempt must be 1 or more"))
        }
        deviceID = try container.decodeIfPresent(String.self, forKey: .deviceId).map { text in
            guard let id = try? DeviceID(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.deviceId], debugDescription: "invalid deviceId"))
            }
            return id
        }
    }

    /// Encodes the members of ``jsonLine``; absent values are written as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time.description, forKey: .time)
        try container.encode(shipment.rawValue, forKey: .shipmentId)
        try container.encode(date.description, forKey: .deliveryDate)
        try container.encode(scope.rawValue, forKey: .scope)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(deviceID?.rawValue, forKey: .deviceId)
    }
}

/// A line of an uploaded attempt log that is not a valid record.
public struct AttemptLogError: DeliveryOTPError, Hashable {
    /// The line's number, from 1.
    public let line: Int
    /// What is wrong with it.
    public let reason: String
    /// An error for line `line`.
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    /// The line and the reason.
    public var description: String { "attempt log line \(line): \(reason)" }
    /// Where the format is described.
    public var hint: String? { "each line is one JSON object as written by the attempt log export (SPEC.md §9)" }
}
