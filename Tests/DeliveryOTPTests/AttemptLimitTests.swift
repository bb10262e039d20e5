import Foundation
import Testing

@testable import DeliveryOTP
@testable import DeliveryOTPStore

/// The attempt limit only goes down, a lock lasts the day, and a clock moved back reopens nothing (SPEC.md §9).
@Suite("The attempt limit holds against the caller and the clock")
struct AttemptLimitTests {
    static let keyring = CourierVerifierTests.keyring
    static let shipment = CourierVerifierTests.shipment

    static func keys(limit: Int?) throws -> DeviceKeys {
        try DeviceKeys(
            keyring: keyring, scope: try Scope("DEPOT-12"), from: try DeliveryDate("2024-01-17"), days: 1,
            timeZone: CourierVerifierTests.berlin, attemptLimit: limit)
    }

    static func door<S: AttemptStore>(
        _ store: S, limit: Int? = nil, fileLimit: Int? = nil,
        at time: String = "2024-01-17T12:00:00+01:00"
    ) throws -> CourierVerifier<S> {
        let instant = Timestamp(rfc3339: time)!
        return try CourierVerifier(deviceKeys: try keys(limit: fileLimit), store: store, attemptLimit: limit, clock: { instant })
    }

    @Test("a caller's limit above the device file's does not raise it")
    func callerCannotRaise() throws {
        let door = try Self.door(InMemoryAttemptStore(), limit: 10, fileLimit: 3)
        #expect(door.attemptLimit == 3)
        #expect(try door.verify("000000", for: Self.shipment) == .rejected(attemptsLeft: 2))
        #expect(try door.verify("000001", for: Self.shipment) == .rejected(attemptsLeft: 1))
        #expect(try door.verify("000002", for: Self.shipment) == .rejected(attemptsLeft: 0))
        #expect(try door.verify("000003", for: Self.shipment) == .locked)
    }

    @Test("a caller's limit below the device file's lowers it")
    func callerCanLower() throws {
        #expect(try Self.door(InMemoryAttemptStore(), limit: 2).attemptLimit == 2)
        #expect(try Self.door(InMemoryAttemptStore(), limit: 2, fileLimit: 7).attemptLimit == 2)
        #expect(try Self.door(InMemoryAttemptStore()).attemptLimit == 5)
    }

    @Test(
        "a shipment locked under a low limit stays locked when a later call passes none",
        arguments: [false, true])
    func lockOutlivesTheLimit(sqlite: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state.sqlite")
        func check(_ limit: Int?, _ code: String) throws -> DoorOutcome {
            if sqlite {
                let door = try Self.door(try SQLiteAttemptStore(path: path), limit: limit)
                return try door.verify(code, for: Self.shipment)
            }
            return try memory.verify(code, for: Self.shipment, limit: limit)
        }
        let memory = MemoryDoor()
        let right = try CourierVerifierTests.code("2024-01-17")
        // The last allowed attempt fails: the lock is stored then, not only counted.
        #expect(try check(1, "000000" == right ? "000001" : "000000") == .rejected(attemptsLeft: 0))
        #expect(try check(nil, right) == .locked)
        #expect(try check(10, right) == .locked)
    }

    /// An in-memory store kept across verifiers with different limits.
    struct MemoryDoor {
        let store = InMemoryAttemptStore()
        func verify(_ code: String, for shipment: ShipmentID, limit: Int?) throws -> DoorOutcome {
            try AttemptLimitTests.door(store, limit: limit).verify(code, for: shipment)
        }
    }

    @Test("a clock more than 10 minutes behind the latest attempt is refused and not counted", arguments: [false, true])
    func clockMovedBack(sqlite: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state.sqlite")
        let memory = InMemoryAttemptStore()
        func check(at time: String) throws -> DoorOutcome {
            if sqlite {
                let door = try Self.door(try SQLiteAttemptStore(path: path), at: time)
                return try door.verify("000000", for: Self.shipment)
            }
            let door = try Self.door(memory, at: time)
            return try door.verify("000000", for: Self.shipment)
        }
        func count() throws -> Int {
            sqlite ? try SQLiteAttemptStore(path: path).records(since: nil).count : try memory.records(since: nil).count
        }
        #expect(try check(at: "2024-01-17T12:00:00+01:00") == .rejected(attemptsLeft: 4))
        // Ten minutes back is within tolerance; eleven is not.
        #expect(try check(at: "2024-01-17T11:50:00+01:00") == .rejected(attemptsLeft: 3))
        #expect(
            throws: CourierError.clockMovedBack(
                now: Timestamp(rfc3339: "2024-01-17T11:49:00+01:00")!,
                latest: Timestamp(rfc3339: "2024-01-17T12:00:00+01:00")!)
        ) {
            try check(at: "2024-01-17T11:49:00+01:00")
        }
        #expect(try count() == 2)
        #expect(try check(at: "2024-01-17T12:05:00+01:00") == .rejected(attemptsLeft: 2))
    }

    @Test("the SQLite store's own connection syncs every commit (PRAGMA synchronous is FULL)")
    func synchronousFull() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteAttemptStore(path: directory.file("state.sqlite"))
        #expect(try store.synchronousLevel() == 2)
        // And again on an existing file, where GRDB's WAL set-up runs on open as well.
        let reopened = try SQLiteAttemptStore(path: directory.file("state.sqlite"))
        #expect(try reopened.synchronousLevel() == 2)
    }
}

/// Findings of the review of the fixes above, each as a test.
@Suite("The attempt limit after a crash and across midnight")
struct AttemptLimitEdgeTests {
    @Test("a last attempt interrupted before its verdict locks the shipment, whatever limit comes next", arguments: [false, true])
    func interruptedLastAttemptLocks(sqlite: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state.sqlite")
        let memory = InMemoryAttemptStore()
        let date = try DeliveryDate("2024-01-17"), scope = try Scope("DEPOT-12")
        let time = Timestamp(rfc3339: "2024-01-17T12:00:00+01:00")!
        // Three attempts under a limit of 3, the last one killed before its verdict.
        for _ in 0..<3 {
            if sqlite {
                let store = try SQLiteAttemptStore(path: path)
                _ = try store.begin(shipment: AttemptLimitTests.shipment, date: date, scope: scope, limit: 3, deviceID: nil, at: time)
            } else {
                _ = try memory.begin(shipment: AttemptLimitTests.shipment, date: date, scope: scope, limit: 3, deviceID: nil, at: time)
            }
        }
        let right = try CourierVerifierTests.code("2024-01-17")
        if sqlite {
            let door = try AttemptLimitTests.door(try SQLiteAttemptStore(path: path))
            #expect(try door.verify(right, for: AttemptLimitTests.shipment) == .locked)
        } else {
            let door = try AttemptLimitTests.door(memory)
            #expect(try door.verify(right, for: AttemptLimitTests.shipment) == .locked)
        }
    }

    @Test("a clock set back across midnight, even by minutes, cannot reach the previous day's counts", arguments: [false, true])
    func backAcrossMidnight(sqlite: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("state.sqlite")
        let memory = InMemoryAttemptStore()
        let keys = try DeviceKeys(
            keyring: AttemptLimitTests.keyring, scope: try Scope("DEPOT-12"), from: try DeliveryDate("2024-01-17"),
            days: 2, timeZone: CourierVerifierTests.berlin)
        func check(at time: String) throws -> DoorOutcome {
            let instant = Timestamp(rfc3339: time)!
            if sqlite {
                let door = try CourierVerifier(deviceKeys: keys, store: try SQLiteAttemptStore(path: path), clock: { instant })
                return try door.verify("000000", for: AttemptLimitTests.shipment)
            }
            let door = try CourierVerifier(deviceKeys: keys, store: memory, clock: { instant })
            return try door.verify("000000", for: AttemptLimitTests.shipment)
        }
        #expect(try check(at: "2024-01-18T00:05:00+01:00") == .rejected(attemptsLeft: 4))
        #expect(throws: CourierError.self) { try check(at: "2024-01-17T23:58:00+01:00") }
    }
}
