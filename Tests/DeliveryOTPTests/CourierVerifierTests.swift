import DeliveryOTPStore
import Foundation
import Testing

@testable import DeliveryOTP

/// The decision at the door, with the in-memory store and with real SQLite files.
@Suite("Courier verification at the door")
struct CourierVerifierTests {
    static let keyring = try! Keyring(keys: [
        Keyring.Key(
            id: try! KeyID("k-door"), secret: SecretKey(copying: [UInt8](repeating: 0x5D, count: 32)),
            activeFrom: try! DeliveryDate("2024-01-01"), createdAt: nil)
    ])
    static let berlin = try! DeliveryTimeZone("Europe/Berlin")
    static let shipment = try! ShipmentID("TBA123456789000")

    /// Device keys for DEPOT-12 from `from` for `days` days, Berlin time.
    static func deviceKeys(from: String, days: Int) throws -> DeviceKeys {
        try DeviceKeys(keyring: keyring, scope: try Scope("DEPOT-12"), from: try DeliveryDate(from), days: days, timeZone: berlin)
    }

    static func code(_ date: String, _ id: ShipmentID = shipment) throws -> String {
        let dayKey = try keyring.dayKey(scope: try Scope("DEPOT-12"), date: try DeliveryDate(date)).dayKey
        return CodeGenerator(dayKey: dayKey).code(for: id).description
    }

    static func verifier<S: AttemptStore>(_ store: S, at time: String, days: (String, Int) = ("2024-01-16", 3)) throws -> CourierVerifier<S>
    {
        let instant = Timestamp(rfc3339: time)!
        return try CourierVerifier(deviceKeys: try deviceKeys(from: days.0, days: days.1), store: store, clock: { instant })
    }

    @Test("today's code is accepted; yesterday's and tomorrow's are rejected")
    func onlyToday() throws {
        let door = try Self.verifier(InMemoryAttemptStore(), at: "2024-01-17T10:00:00+01:00")
        #expect(try door.verify(try Self.code("2024-01-16"), for: Self.shipment) == .rejected(attemptsLeft: 4))
        #expect(try door.verify(try Self.code("2024-01-18"), for: Self.shipment) == .rejected(attemptsLeft: 3))
        #expect(try door.verify(try Self.code("2024-01-17"), for: Self.shipment) == .accepted)
    }

    @Test("the sixth wrong try and every later one is locked, even with the right code")
    func locksAfterFive() throws {
        let door = try Self.verifier(InMemoryAttemptStore(), at: "2024-01-17T10:00:00+01:00")
        let right = try Self.code("2024-01-17")
        let wrong = String(format: "%06d", (Int(right)! + 1) % 1_000_000)
        for left in (0..<5).reversed() {
            #expect(try door.verify(wrong, for: Self.shipment) == .rejected(attemptsLeft: left))
        }
        #expect(try door.verify(wrong, for: Self.shipment) == .locked)
        #expect(try door.verify(right, for: Self.shipment) == .locked)
        // Another shipment is not affected.
        let other = try ShipmentID("OTHER-1")
        #expect(try door.verify(try Self.code("2024-01-17", other), for: other) == .accepted)
    }

    @Test("a right code after four wrong ones is accepted; a later verify reports the earlier handover")
    func acceptedThenAgain() throws {
        let door = try Self.verifier(InMemoryAttemptStore(), at: "2024-01-17T10:15:00+01:00")
        for _ in 0..<4 { _ = try door.verify("000000", for: Self.shipment) }
        #expect(try door.verify(try Self.code("2024-01-17"), for: Self.shipment) == .accepted)
        let again = try door.verify(try Self.code("2024-01-17"), for: Self.shipment)
        #expect(again == .alreadyAccepted(at: Timestamp(rfc3339: "2024-01-17T10:15:00+01:00")!))
    }

    @Test("no day key for today is an error and not an attempt")
    func noKeyForToday() throws {
        let door = try Self.verifier(InMemoryAttemptStore(), at: "2024-01-20T10:00:00+01:00")
        #expect(throws: CourierError.noKeyForToday(try DeliveryDate("2024-01-20"))) {
            try door.verify("123456", for: Self.shipment)
        }
        #expect(try door.store.records(since: nil).isEmpty)
        #expect(
            CourierError.noKeyForToday(try DeliveryDate("2024-01-18")).description
                == "the device keys hold no key for today, 2024-01-18")
    }

    struct Boundary: Sendable, CustomTestStringConvertible {
        let time: String, day: String
        var testDescription: String { "\(time) is \(day)" }
    }

    // Midnight in Berlin in winter (+01:00), and the spring-forward and fall-back days of 2024.
    static let boundaries: [Boundary] = [
        Boundary(time: "2024-01-17T23:59:59+01:00", day: "2024-01-17"),
        Boundary(time: "2024-01-18T00:00:00+01:00", day: "2024-01-18"),
        Boundary(time: "2024-01-17T22:59:59Z", day: "2024-01-17"),
        Boundary(time: "2024-01-17T23:00:00Z", day: "2024-01-18"),
        Boundary(time: "2024-03-30T23:59:59+01:00", day: "2024-03-30"),
        Boundary(time: "2024-03-31T00:00:00+01:00", day: "2024-03-31"),
        Boundary(time: "2024-03-31T03:00:00+02:00", day: "2024-03-31"),  // one second after 01:59:59 UTC+1
        Boundary(time: "2024-03-31T23:59:59+02:00", day: "2024-03-31"),
        Boundary(time: "2024-04-01T00:00:00+02:00", day: "2024-04-01"),
        Boundary(time: "2024-10-27T02:30:00+02:00", day: "2024-10-27"),
        Boundary(time: "2024-10-27T02:30:00+01:00", day: "2024-10-27"),
        Boundary(time: "2024-10-27T23:59:59+01:00", day: "2024-10-27"),
        Boundary(time: "2024-10-28T00:00:00+01:00", day: "2024-10-28"),
    ]

    @Test("the delivery day follows Berlin's clock at midnight and on daylight-saving days", arguments: boundaries)
    func timeZoneBoundaries(_ boundary: Boundary) throws {
        let day = try DeliveryDate(boundary.day)
        let first = day.adding(days: -1)!.description
        let door = try Self.verifier(InMemoryAttemptStore(), at: boundary.time, days: (first, 3))
        #expect(door.today == day)
        // Only that day's code opens the parcel at that instant.
        #expect(try door.verify(try Self.code(day.adding(days: -1)!.description), for: Self.shipment) == .rejected(attemptsLeft: 4))
        #expect(try door.verify(try Self.code(day.adding(days: 1)!.description), for: Self.shipment) == .rejected(attemptsLeft: 3))
        #expect(try door.verify(try Self.code(boundary.day), for: Self.shipment) == .accepted)
    }

    @Test("the attempt limit comes from the device file or the caller, 1 to 10")
    func configurableLimit() throws {
        let keys = try DeviceKeys(
            keyring: Self.keyring, scope: try Scope("DEPOT-12"), from: try DeliveryDate("2024-01-17"), days: 1,
            timeZone: Self.berlin, attemptLimit: 2)
        let instant = Timestamp(rfc3339: "2024-01-17T12:00:00+01:00")!
        let door = try CourierVerifier(deviceKeys: keys, store: InMemoryAttemptStore(), clock: { instant })
        #expect(try door.verify("000000", for: Self.shipment) == .rejected(attemptsLeft: 1))
        #expect(try door.verify("000001", for: Self.shipment) == .rejected(attemptsLeft: 0))
        #expect(try door.verify("000002", for: Self.shipment) == .locked)
        #expect(throws: CourierError.attemptLimit(11)) {
            try CourierVerifier(deviceKeys: keys, store: InMemoryAttemptStore(), attemptLimit: 11)
        }
    }

    @Test("the SQLite store keeps counts across reopening, is private, and prunes old days")
    func sqliteStore() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state.sqlite")
        do {
            let door = try Self.verifier(try SQLiteAttemptStore(path: path), at: "2024-01-17T10:00:00+01:00")
            for _ in 0..<3 { _ = try door.verify("000000", for: Self.shipment) }
        }
        let reopened = try Self.verifier(try SQLiteAttemptStore(path: path), at: "2024-01-17T11:00:00+01:00")
        #expect(try reopened.verify("000000", for: Self.shipment) == .rejected(attemptsLeft: 1))
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber == 0o600)
        #expect(try reopened.store.records(since: nil).count == 4)

        // 31 days later the old rows are gone.
        let later = try CourierVerifier(
            deviceKeys: try Self.deviceKeys(from: "2024-02-18", days: 1),
            store: try SQLiteAttemptStore(path: path),
            clock: { Timestamp(rfc3339: "2024-02-18T10:00:00+01:00")! })
        #expect(try later.verify("000000", for: Self.shipment) == .rejected(attemptsLeft: 4))
        #expect(try later.store.records(since: nil).map(\.date.description) == ["2024-02-18"])
    }

    @Test("an attempt interrupted before its verdict still counts")
    func interruptedAttemptCounts() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteAttemptStore(path: directory.file("state.sqlite"))
        let date = try DeliveryDate("2024-01-17")
        // Begin without finishing, as a process killed after the commit would.
        _ = try store.begin(
            shipment: Self.shipment, date: date, scope: try Scope("DEPOT-12"), limit: 5, deviceID: nil,
            at: Timestamp(secondsSinceEpoch: 1))
        #expect(try store.records(since: nil).map(\.outcome) == [.interrupted])
        let door = try Self.verifier(store, at: "2024-01-17T10:00:00+01:00")
        #expect(try door.verify("000000", for: Self.shipment) == .rejected(attemptsLeft: 3))
    }
}

@Suite("Delivery time zones")
struct DeliveryTimeZoneTests {
    @Test(
        "the end of a delivery day carries that day's offset, on daylight-saving days too",
        arguments: [
            ("2024-03-30", "2024-03-30T23:59:59+01:00"), ("2024-03-31", "2024-03-31T23:59:59+02:00"),
            ("2024-10-26", "2024-10-26T23:59:59+02:00"), ("2024-10-27", "2024-10-27T23:59:59+01:00"),
        ])
    func endOfDay(_ date: String, _ expected: String) throws {
        let berlin = try DeliveryTimeZone("Europe/Berlin")
        #expect(berlin.format(berlin.endOfDay(try DeliveryDate(date))) == expected)
    }

    @Test("instants print as local time with the offset, and unknown zones are refused")
    func formatting() throws {
        let berlin = try DeliveryTimeZone("Europe/Berlin")
        #expect(berlin.format(Timestamp(rfc3339: "2024-01-17T09:15:00Z")!) == "2024-01-17T10:15:00+01:00")
        #expect(berlin.format(Timestamp(rfc3339: "2024-07-01T22:30:00Z")!) == "2024-07-02T00:30:00+02:00")
        #expect(throws: TimeZoneError.self) { try DeliveryTimeZone("Mars/Olympus") }
        #expect(throws: TimeZoneError.self) { try DeliveryTimeZone("CET") }
    }
}
