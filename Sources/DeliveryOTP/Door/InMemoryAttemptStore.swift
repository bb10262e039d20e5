import Synchronization

/// An attempt store that lives in memory: for unit tests and previews, never
/// for a device (a restart would forget every attempt). Calls are serialised by a mutex.
public final class InMemoryAttemptStore: AttemptStore {
    private struct Key: Hashable {
        let shipment: ShipmentID
        let date: DeliveryDate
    }

    private struct State {
        var rows: [Int64: AttemptRecord] = [:]
        var nextID: Int64 = 1
        var handovers: [Key: Timestamp] = [:]
        var locks: Set<Key> = []
        var latest: Timestamp?
    }

    private let state = Locked(State())

    /// An empty store.
    public init() {}

    /// Counts an attempt, or records a locked or already-accepted try, as ``AttemptStore`` describes.
    /// Throws ``AttemptStoreError`` (kind `clockMovedBack`) when `time` fails the ``AttemptClock`` check.
    public func begin(
        shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, deviceID: DeviceID?,
        at time: Timestamp
    ) throws(AttemptStoreError) -> AttemptAdmission {
        try state.withLock { (state) throws(AttemptStoreError) -> AttemptAdmission in
            func record(_ outcome: AttemptRecord.Outcome, _ attempt: Int?) -> Int64 {
                let id = state.nextID
                state.nextID += 1
                state.rows[id] = AttemptRecord(
                    time: time, shipment: shipment, date: date, scope: scope, outcome: outcome,
                    attempt: attempt, deviceID: deviceID)
                return id
            }
            try AttemptClock.check(time, date: date, latest: state.latest, latestDate: state.rows.values.map(\.date).max())
            state.latest = max(state.latest ?? time, time)
            let key = Key(shipment: shipment, date: date)
            if let acceptedAt = state.handovers[key] {
                _ = record(.alreadyAccepted, nil)
                return .alreadyAccepted(at: acceptedAt)
            }
            let counted = state.rows.values.filter { $0.shipment == shipment && $0.date == date && $0.attempt != nil }.count
            if state.locks.contains(key) || counted >= limit {
                state.locks.insert(key)
                _ = record(.locked, nil)
                return .locked
            }
            let id = record(.interrupted, counted + 1)
            if counted + 1 >= limit { state.locks.insert(key) }
            return .counted(AttemptTicket(id: id), number: counted + 1)
        }
    }

    /// Stores the verdict of a counted attempt; an accepted one records the handover for its day.
    /// Throws ``AttemptStoreError`` when `ticket` names no attempt in this store.
    public func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp) throws(AttemptStoreError) {
        try state.withLock { (state) throws(AttemptStoreError) in
            guard var row = state.rows[ticket.id] else { throw AttemptStoreError("no attempt \(ticket.id)") }
            row.outcome = accepted ? .accepted : .rejected
            state.rows[ticket.id] = row
            if accepted { state.handovers[Key(shipment: row.shipment, date: row.date)] = time }
        }
    }

    /// The attempt log in the order the attempts began, from `since` on (all of it when nil).
    public func records(since: Timestamp?) throws(AttemptStoreError) -> [AttemptRecord] {
        state.withLock { state in
            state.rows.sorted { $0.key < $1.key }.map(\.value).filter { since == nil || $0.time >= since! }
        }
    }

    /// Forgets the attempts, handovers and locks of delivery dates before `date`.
    public func prune(before date: DeliveryDate) throws(AttemptStoreError) {
        state.withLock { state in
            state.rows = state.rows.filter { $0.value.date >= date }
            state.handovers = state.handovers.filter { $0.key.date >= date }
            state.locks = state.locks.filter { $0.date >= date }
        }
    }
}
