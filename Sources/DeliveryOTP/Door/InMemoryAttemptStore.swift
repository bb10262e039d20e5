/// An attempt store that lives in memory: for unit tests and previews, never
/// for a device (a restart would forget every attempt).
public struct InMemoryAttemptStore: AttemptStore, Sendable {
    private var rows: [Int64: AttemptRecord] = [:]
    private var nextID: Int64 = 1
    private var handovers: [Key: Timestamp] = [:]
    private var locks: Set<Key> = []
    private var latest: Timestamp?

    private struct Key: Hashable {
        let shipment: ShipmentID
        let date: DeliveryDate
    }

    public init() {}

    public mutating func begin(shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, deviceID: DeviceID?,
                               at time: Timestamp) throws(AttemptStoreError) -> AttemptAdmission {
        func record(_ outcome: AttemptRecord.Outcome, _ attempt: Int?) -> Int64 {
            let id = nextID
            nextID += 1
            rows[id] = AttemptRecord(time: time, shipment: shipment, date: date, scope: scope, outcome: outcome,
                                     attempt: attempt, deviceID: deviceID)
            return id
        }
        try AttemptClock.check(time, date: date, latest: latest, latestDate: rows.values.map(\.date).max())
        latest = max(latest ?? time, time)
        let key = Key(shipment: shipment, date: date)
        if let acceptedAt = handovers[key] {
            _ = record(.alreadyAccepted, nil)
            return .alreadyAccepted(at: acceptedAt)
        }
        let counted = rows.values.filter { $0.shipment == shipment && $0.date == date && $0.attempt != nil }.count
        if locks.contains(key) || counted >= limit {
            locks.insert(key)
            _ = record(.locked, nil)
            return .locked
        }
        let id = record(.interrupted, counted + 1)
        if counted + 1 >= limit { locks.insert(key) }
        return .counted(AttemptTicket(id: id), number: counted + 1)
    }

    public mutating func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp) throws(AttemptStoreError) {
        guard var row = rows[ticket.id] else { throw AttemptStoreError("no attempt \(ticket.id)") }
        row.outcome = accepted ? .accepted : .rejected
        rows[ticket.id] = row
        let key = Key(shipment: row.shipment, date: row.date)
        if accepted { handovers[key] = time }
    }

    public func records(since: Timestamp?) throws(AttemptStoreError) -> [AttemptRecord] {
        rows.sorted { $0.key < $1.key }.map(\.value).filter { since == nil || $0.time >= since! }
    }

    public mutating func prune(before date: DeliveryDate) throws(AttemptStoreError) {
        rows = rows.filter { $0.value.date >= date }
        handovers = handovers.filter { $0.key.date >= date }
        locks = locks.filter { $0.date >= date }
    }
}
