/// Durable per-shipment, per-day attempt counting for courier devices (SPEC.md §9).
///
/// ``begin(shipment:date:scope:limit:deviceID:at:)`` must make the attempt
/// durable before it returns, so that no outcome is computed, let alone shown,
/// for an attempt that a crash could forget. A store also keeps:
/// - the lock: the last attempt a limit allows locks the shipment for its date in
///   the same commit, and a lock lasts that day whatever limit a later call passes;
/// - the latest time it has seen: a `begin` whose time is more than
///   ``AttemptClock/tolerance`` earlier (or whose date is before the latest date with
///   an attempt) is refused with ``AttemptStoreError/Kind/clockMovedBack(latest:)``
///   and not counted, so that a device clock moved back cannot reopen a day's counts.
///
/// A store is shared between tasks: every method is safe to call concurrently, and
/// calls for one store are serialised inside it. The methods block while they
/// write; the async `CourierVerifier.verify(_:for:)` runs them off the caller's executor.
public protocol AttemptStore: Sendable {
    /// Counts an attempt (or records a locked or already-accepted try) and makes it durable.
    func begin(
        shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, deviceID: DeviceID?,
        at time: Timestamp
    ) throws(AttemptStoreError) -> AttemptAdmission
    /// Stores the verdict of a counted attempt; an accepted one records the handover.
    func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp) throws(AttemptStoreError)
    /// The attempt log, oldest first, from `since` on (all of it when nil).
    func records(since: Timestamp?) throws(AttemptStoreError) -> [AttemptRecord]
    /// Removes everything about delivery dates before `date`.
    func prune(before date: DeliveryDate) throws(AttemptStoreError)
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

/// A counted attempt awaiting its verdict: the store's own id for its row.
public struct AttemptTicket: Sendable, Hashable {
    /// The store's id of the attempt.
    public let id: Int64
    /// Wraps a store's id; for implementations of ``AttemptStore``.
    public init(id: Int64) { self.id = id }
}

/// The attempt store could not be opened, read or written, or refused the attempt;
/// in every case the attempt was not counted.
public struct AttemptStoreError: DeliveryOTPError, Hashable {
    /// What went wrong, for a program to act on.
    public enum Kind: Sendable, Hashable {
        /// The file could not be opened or created (a wrong path, a missing folder, no permission).
        case cannotOpen
        /// The file is not an attempt store, or is damaged: keep it for inspection and start a new one.
        case notADatabase
        /// The file was written by a newer release (schema version `found`; this one knows `supported`).
        case schemaTooNew(found: Int, supported: Int)
        /// Another process holds the store's write lock for longer than the store waits: try again.
        case busy
        /// Reading or writing failed (a full disk, an I/O error).
        case io
        /// The clock is more than ``AttemptClock/tolerance`` behind the latest time the store has seen,
        /// or on an earlier date than its latest attempt.
        case clockMovedBack(latest: Timestamp)
    }

    /// What went wrong.
    public let kind: Kind
    /// One line for a person, with the store's path and the underlying reason. Never a typed code.
    public let description: String

    /// An error of `kind`, described by `description`.
    public init(_ description: String, kind: Kind = .io) {
        self.kind = kind
        self.description = description
    }

    /// How to fix it, by kind.
    public var hint: String? {
        switch kind {
        case .cannotOpen: "check that the folder exists and the file is writable by this user"
        case .notADatabase: "move the file aside (keep it for inspection) and start a new attempt store"
        case .schemaTooNew: "update the app: the attempt store was written by a newer release"
        case .busy: "another process is using the attempt store; try again"
        case .io: "check that the disk has space and the file is not damaged"
        case .clockMovedBack: "set the device clock to the correct time"
        }
    }
}

/// How far a device clock may run behind the latest time its attempt store has seen.
public enum AttemptClock {
    /// Ten minutes: room for a clock corrected by a few minutes, none for replaying an earlier hour.
    public static let tolerance: Int64 = 600

    /// Refuses `time` when it is more than ``tolerance`` before `latest`, and an attempt for a date
    /// before `latestDate` (a clock set back across midnight would reach the previous day's counts).
    /// For implementations of ``AttemptStore``.
    public static func check(_ time: Timestamp, date: DeliveryDate, latest: Timestamp?, latestDate: DeliveryDate?) throws(AttemptStoreError)
    {
        guard let latest else { return }
        let behind = time.secondsSinceEpoch < latest.secondsSinceEpoch - tolerance
        let earlierDay = latestDate.map { date < $0 } ?? false
        guard behind || earlierDay else { return }
        throw AttemptStoreError(
            "the clock (\(time)) is behind the latest attempt time (\(latest)); nothing was counted",
            kind: .clockMovedBack(latest: latest))
    }
}
