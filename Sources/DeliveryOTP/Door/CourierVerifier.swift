import Dispatch

/// Verifies codes on a courier device: offline, for today only, with a
/// durable attempt limit per shipment and day (SPEC.md §9).
///
/// A verifier is an immutable value, safe to share between tasks; its store
/// serialises the attempts. From async code, `await` its `verify(_:for:)`: it does
/// the durable write on the verifier's own serial dispatch queue, off the caller's
/// executor and off the shared global queues.
public struct CourierVerifier<Store: AttemptStore>: Sendable {
    /// The limit when the device keys set none: five wrong codes per shipment and day.
    public static var defaultAttemptLimit: Int { 5 }
    /// The limits a device-key file or a caller may set.
    public static var attemptLimits: ClosedRange<Int> { 1...10 }
    /// How long the store keeps attempts: entries for dates more than 30 days before today are
    /// removed at each verification.
    public static var retentionDays: Int { 30 }

    /// The day keys the device holds.
    public let deviceKeys: DeviceKeys
    /// Where attempts are counted.
    public let store: Store
    /// The effective limit: the device file's (else ``defaultAttemptLimit``), lowered to the caller's.
    public let attemptLimit: Int
    /// The name written into each attempt: the caller's, else the device file's, else none.
    public let deviceID: DeviceID?
    private let clock: @Sendable () -> Timestamp
    /// Where the async `verify` runs the blocking store calls, one at a time (the store serialises them anyway).
    private let queue: DispatchQueue

    /// Makes a verifier. The effective limit is the device file's (else 5), lowered to `attemptLimit`
    /// when that is smaller: a caller can make the door stricter, never looser. `deviceID`, when given,
    /// wins over the device file's. `clock` is the time source (the system clock unless a test sets one).
    ///
    /// Day keys derived from the published example keys (``DeviceKeys/isExample``) are refused with
    /// ``CourierError/exampleKeys`` unless `allowExampleKeys`: anyone can compute their codes, so they
    /// are for trying the library only.
    public init(
        deviceKeys: DeviceKeys, store: Store, attemptLimit: Int? = nil, deviceID: DeviceID? = nil,
        allowExampleKeys: Bool = false, clock: @escaping @Sendable () -> Timestamp = { .now }
    ) throws(CourierError) {
        if deviceKeys.isExample && !allowExampleKeys { throw .exampleKeys }
        if let attemptLimit, !Self.attemptLimits.contains(attemptLimit) { throw .attemptLimit(attemptLimit) }
        let fileLimit = deviceKeys.attemptLimit ?? Self.defaultAttemptLimit
        guard Self.attemptLimits.contains(fileLimit) else { throw .attemptLimit(fileLimit) }
        self.deviceKeys = deviceKeys
        self.store = store
        self.attemptLimit = min(fileLimit, attemptLimit ?? fileLimit)
        self.deviceID = deviceID ?? deviceKeys.deviceID
        self.clock = clock
        self.queue = DispatchQueue(label: "DeliveryOTP.CourierVerifier", qos: .userInitiated)
    }

    /// Today's date where the parcels are delivered.
    public var today: DeliveryDate { deviceKeys.timeZone.date(at: clock()) }

    /// Decides whether `typed` opens `shipment` today, blocking the calling thread through the store's write.
    ///
    /// In order: a missing day key for today is an error, not an attempt; input that is not six
    /// digits is ``DoorOutcome/notACode`` and counts nothing; otherwise the attempt is recorded
    /// durably first and only then is the code compared, in constant time.
    public func verify(_ typed: some StringProtocol, for shipment: ShipmentID) throws(CourierError) -> DoorOutcome {
        let now = clock()
        let date = deviceKeys.timeZone.date(at: now)
        let dayKey: DayKey
        do { dayKey = try deviceKeys.dayKey(scope: deviceKeys.scope, date: date).dayKey } catch {
            throw .noKeyForToday(date)
        }
        guard let code = DeliveryCode(typed: typed) else { return .notACode }
        let generator = CodeGenerator(dayKey: dayKey)

        let admission: AttemptAdmission
        do {
            try store.prune(before: date.adding(days: -Self.retentionDays) ?? date)
            admission = try store.begin(
                shipment: shipment, date: date, scope: deviceKeys.scope, limit: attemptLimit,
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
            let accepted = generator.verify(code, for: shipment) == .accepted
            do { try store.finish(ticket, accepted: accepted, at: now) } catch { throw .store(error) }
            return accepted ? .accepted : .rejected(attemptsLeft: max(0, attemptLimit - number))
        }
    }

    /// The same decision for async callers (an app's actor, a server's request handler): the durable
    /// write runs on the verifier's serial dispatch queue, so the caller's executor is free while the
    /// store syncs, and the shared global queues are never blocked.
    ///
    /// It does not react to task cancellation: an attempt that has begun is recorded and decided, as
    /// a crash would leave it counted anyway.
    public func verify(_ typed: some StringProtocol & Sendable, for shipment: ShipmentID) async throws(CourierError) -> DoorOutcome {
        let result: Result<DoorOutcome, CourierError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(CourierError) in try self.verify(typed, for: shipment) })
            }
        }
        return try result.get()
    }
}

/// Why a verification could not be decided. None of these counts an attempt.
public enum CourierError: DeliveryOTPError, Hashable {
    /// A limit outside ``CourierVerifier/attemptLimits`` (from the caller or the device file).
    case attemptLimit(Int)
    /// The device keys hold no key for today (this date, in their time zone): the device needs fresh keys.
    case noKeyForToday(DeliveryDate)
    /// The attempt store failed; its ``AttemptStoreError/kind`` says whether to retry, reset or update.
    case store(AttemptStoreError)
    /// The device clock is more than ten minutes behind the latest attempt the store has seen, or on an
    /// earlier date than it.
    case clockMovedBack(now: Timestamp, latest: Timestamp)
    /// The device keys come from the published example keys, and the verifier was not told to allow them.
    case exampleKeys

    /// One line for a person.
    public var description: String {
        switch self {
        case .attemptLimit(let limit): "the attempt limit must be 1 to 10, not \(limit)"
        case .noKeyForToday(let date): "the device keys hold no key for today, \(date)"
        case .clockMovedBack(let now, let latest):
            "the device clock says \(now), before an attempt already recorded at \(latest) (by more than 10 minutes, or on an earlier day); nothing was counted"
        case .store(let error): "attempt store: \(error)"
        case .exampleKeys: "these day keys come from the published example keys; anyone can compute their codes"
        }
    }

    /// How to fix it.
    public var hint: String? {
        switch self {
        case .attemptLimit: "choose a limit from 1 to 10"
        case .noKeyForToday: "fetch fresh day keys for this device"
        case .store(let error): error.hint
        case .clockMovedBack: "set the device clock to the correct time"
        case .exampleKeys: "use day keys exported from a keyring of your own"
        }
    }
}
