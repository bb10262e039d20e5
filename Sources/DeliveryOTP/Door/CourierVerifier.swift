/// The decision at the door (SPEC.md §9).
public enum DoorOutcome: Sendable, Hashable {
    /// The code is right: hand the parcel over.
    case accepted
    /// The code is wrong; this many more wrong codes are allowed today.
    case rejected(attemptsLeft: Int)
    /// Too many wrong codes for this shipment today: the parcel goes back to the depot.
    case locked
    /// The shipment was handed over earlier today, at this time.
    case alreadyAccepted(at: Timestamp)
}

/// What an attempt store answers when an attempt begins. By the time it
/// returns, the attempt is durably recorded.
public enum AttemptAdmission: Sendable, Hashable {
    /// The attempt was counted as attempt number `number`; finish it with ``AttemptStore/finish(_:accepted:at:)``.
    case counted(AttemptTicket, number: Int)
    /// The limit was already reached; recorded as a locked try.
    case locked
    /// The shipment was already accepted today; recorded as such.
    case alreadyAccepted(at: Timestamp)
}

/// A counted attempt awaiting its verdict.
public struct AttemptTicket: Sendable, Hashable {
    public let id: Int64
    public init(id: Int64) { self.id = id }
}

/// One line of the attempt log. It never holds the typed code or any key.
public struct AttemptRecord: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        /// Counted, but the process ended before the verdict was stored (a crash or a kill).
        case interrupted
        case accepted, rejected, locked
        case alreadyAccepted = "already-accepted"
    }
    public var time: Timestamp
    public var shipment: ShipmentID
    public var date: DeliveryDate
    public var scope: Scope
    public var outcome: Outcome
    /// The attempt's number among counted attempts; nil for locked and already-accepted tries.
    public var attempt: Int?
    public var deviceID: DeviceID?

    public init(time: Timestamp, shipment: ShipmentID, date: DeliveryDate, scope: Scope, outcome: Outcome,
                attempt: Int?, deviceID: DeviceID?) {
        self.time = time
        self.shipment = shipment
        self.date = date
        self.scope = scope
        self.outcome = outcome
        self.attempt = attempt
        self.deviceID = deviceID
    }
}

/// Durable per-shipment, per-day attempt counting for courier devices.
///
/// ``begin(shipment:date:scope:limit:deviceID:at:)`` must make the attempt
/// durable before it returns, so that no outcome is computed, let alone shown,
/// for an attempt that a crash could forget. A store also keeps (SPEC.md §9):
/// - the lock: the last attempt a limit allows locks the shipment for its date in
///   the same commit, and a lock lasts that day whatever limit a later call passes;
/// - the latest time it has seen: a `begin` whose time is more than
///   ``AttemptClock/tolerance`` earlier is refused with
///   ``AttemptStoreError/Kind/clockMovedBack(latest:)`` and not counted, so that
///   a device clock moved back cannot reopen a day's counts.
public protocol AttemptStore {
    mutating func begin(shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, deviceID: DeviceID?,
                        at time: Timestamp) throws(AttemptStoreError) -> AttemptAdmission
    mutating func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp) throws(AttemptStoreError)
    func records(since: Timestamp?) throws(AttemptStoreError) -> [AttemptRecord]
    /// Removes everything about delivery dates before `date`.
    mutating func prune(before date: DeliveryDate) throws(AttemptStoreError)
}

/// The attempt store could not be read or written, or refused the attempt; the attempt did not happen.
public struct AttemptStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The store could not be opened, read or written.
        case io
        /// The clock is more than ``AttemptClock/tolerance`` behind the latest time the store has seen.
        case clockMovedBack(latest: Timestamp)
    }
    public let kind: Kind
    public let description: String
    public init(_ description: String, kind: Kind = .io) {
        self.kind = kind
        self.description = description
    }
}

/// How far a device clock may run behind the latest time its attempt store has seen.
public enum AttemptClock {
    /// Ten minutes: room for a clock corrected by a few minutes, none for replaying an earlier hour.
    public static let tolerance: Int64 = 600

    /// Refuses `time` when it is more than ``tolerance`` before `latest`, and an attempt for a date
    /// before `latestDate` (a clock set back across midnight would reach the previous day's counts).
    public static func check(_ time: Timestamp, date: DeliveryDate, latest: Timestamp?, latestDate: DeliveryDate?) throws(AttemptStoreError) {
        guard let latest else { return }
        let behind = time.secondsSinceEpoch < latest.secondsSinceEpoch - tolerance
        let earlierDay = latestDate.map { date < $0 } ?? false
        guard behind || earlierDay else { return }
        throw AttemptStoreError("the clock (\(time)) is behind the latest attempt time (\(latest)); nothing was counted",
                                kind: .clockMovedBack(latest: latest))
    }
}

/// A device's name in the attempt log: 1 to 64 characters from `[A-Za-z0-9._-]`.
public struct DeviceID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ text: some StringProtocol) throws(InputError) {
        let string = String(text)
        guard !string.isEmpty, string.utf8.count <= 64, string.unicodeScalars.allSatisfy(Scope.isAllowed) else {
            throw .invalidDeviceID
        }
        rawValue = string
    }
    public var description: String { rawValue }
}

/// Verifies codes on a courier device: offline, for today only, with a
/// durable attempt limit per shipment and day.
public struct CourierVerifier<Store: AttemptStore> {
    public static var defaultAttemptLimit: Int { 5 }
    public static var attemptLimits: ClosedRange<Int> { 1...10 }

    public let deviceKeys: DeviceKeys
    public private(set) var store: Store
    public let attemptLimit: Int
    public let deviceID: DeviceID?
    private let clock: () -> Timestamp

    /// The effective limit is the device file's (else 5), lowered to `attemptLimit`
    /// when that is smaller: a caller can make the door stricter, never looser.
    public init(deviceKeys: DeviceKeys, store: Store, attemptLimit: Int? = nil, deviceID: DeviceID? = nil,
                clock: @escaping () -> Timestamp = { .now }) throws(CourierError) {
        if let attemptLimit, !Self.attemptLimits.contains(attemptLimit) { throw .attemptLimit(attemptLimit) }
        let fileLimit = deviceKeys.attemptLimit ?? Self.defaultAttemptLimit
        guard Self.attemptLimits.contains(fileLimit) else { throw .attemptLimit(fileLimit) }
        let limit = min(fileLimit, attemptLimit ?? fileLimit)
        self.deviceKeys = deviceKeys
        self.store = store
        self.attemptLimit = limit
        self.deviceID = deviceID ?? deviceKeys.deviceID
        self.clock = clock
    }

    /// Today's date where the parcels are delivered.
    public var today: DeliveryDate { deviceKeys.timeZone.date(at: clock()) }

    /// Decides whether `typed` opens `shipment` today.
    ///
    /// A missing day key for today is an error and not an attempt. Otherwise the
    /// attempt is recorded durably first; only then is the code looked at.
    public mutating func verify(_ typed: some StringProtocol, for shipment: ShipmentID) throws(CourierError) -> DoorOutcome {
        let now = clock()
        let date = deviceKeys.timeZone.date(at: now)
        let dayKey: DayKey
        do { dayKey = try deviceKeys.dayKey(scope: deviceKeys.scope, date: date).dayKey } catch { throw .deviceKeys(error) }
        let generator = CodeGenerator(dayKey: dayKey)

        let admission: AttemptAdmission
        do {
            try store.prune(before: date.adding(days: -30) ?? date)
            admission = try store.begin(shipment: shipment, date: date, scope: deviceKeys.scope, limit: attemptLimit,
                                        deviceID: deviceID, at: now)
        } catch {
            if case .clockMovedBack(let latest) = error.kind { throw .clockMovedBack(now: now, latest: latest) }
            throw .store(error)
        }

        switch admission {
        case .locked:
            return .locked
        case .alreadyAccepted(let time):
            return .alreadyAccepted(at: time)
        case .counted(let ticket, let number):
            let accepted = generator.verify(typed: typed, for: shipment) == .accepted
            do { try store.finish(ticket, accepted: accepted, at: now) } catch { throw .store(error) }
            return accepted ? .accepted : .rejected(attemptsLeft: max(0, attemptLimit - number))
        }
    }
}

public enum CourierError: Error, Sendable, Hashable, CustomStringConvertible {
    case attemptLimit(Int)
    case deviceKeys(DeviceKeysError)
    case store(AttemptStoreError)
    /// The device clock is more than ten minutes behind the latest attempt the store has seen; not counted.
    case clockMovedBack(now: Timestamp, latest: Timestamp)

    public var description: String {
        switch self {
        case .attemptLimit(let limit): "the attempt limit must be 1 to 10, not \(limit)"
        case .clockMovedBack(let now, let latest):
            "the device clock says \(now), before an attempt already recorded at \(latest) (by more than 10 minutes, or on an earlier day); nothing was counted"
        case .deviceKeys(let error): error.description
        case .store(let error): "attempt store: \(error)"
        }
    }

    public var hint: String? {
        switch self {
        case .attemptLimit: nil
        case .deviceKeys(let error): error.hint
        case .store: "check that the state file is writable and not damaged"
        case .clockMovedBack: "set the device clock to the correct time"
        }
    }
}
