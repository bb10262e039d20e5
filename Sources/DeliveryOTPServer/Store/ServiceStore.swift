import DeliveryOTP

/// Where the service counts attempts, keeps locks and handovers, and keeps the uploaded device
/// logs: the central attempt log. SQLite (``SQLiteServiceStore``) for one machine; PostgreSQL
/// (``PostgresServiceStore``) for several replicas that share one limit.
///
/// Attempts are counted per scope, shipment and delivery date, whatever courier token they come
/// through: each scope has its own codes, so a courier of one scope can neither lock nor hand over
/// another scope's shipment. ``begin(_:)`` returns only when the attempt is durable; the code is compared
/// after that, never before.
public protocol ServiceStore: Sendable {
    /// Counts an online attempt (or records a locked or already-accepted try) and makes it durable.
    func begin(_ attempt: OnlineAttempt) async throws(AttemptStoreError) -> AttemptAdmission
    /// Stores the verdict of a counted attempt; an accepted one records the handover. With
    /// `waitForDurability` it returns once the verdict is durable; without, once it is queued for the
    /// next commit (a lost verdict leaves the attempt counted as interrupted). Throws when a verdict
    /// it waits for was not stored (in PostgreSQL also when another caller of the database settled
    /// the attempt first), so that no answer claims a handover the log does not hold.
    func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp, waitForDurability: Bool) async throws(AttemptStoreError)
    /// Stores a device's uploaded attempt log; lines it already holds from that device are skipped.
    /// Returns how many were new.
    func upload(_ records: [AttemptRecord], from uploader: DeviceID, at time: Timestamp) async throws(AttemptStoreError) -> Int
    /// A page of the central attempt log from `start`, of one scope or all, oldest first (by time,
    /// then in the order stored): at most `limit` lines, each with its position, and the position
    /// the next page starts after when there is more (none for a limit below one).
    func page(from start: AttemptLogStart, scope: Scope?, limit: Int) async throws(AttemptStoreError) -> AttemptLogPage
    /// Whether the store can record a verify now (readiness): it takes a write, and, for a
    /// database, the role may still call what a verify calls.
    func isWritable() async -> Bool
    /// Finishes the pending writes and closes the store.
    func close() async
}

/// An attempt at the online door.
public struct OnlineAttempt: Sendable, Hashable {
    /// The shipment.
    public var shipment: ShipmentID
    /// Today in the scope's time zone.
    public var date: DeliveryDate
    /// The scope the code was checked in.
    public var scope: Scope
    /// The configured limit.
    public var limit: Int
    /// Who verified: the courier token's name.
    public var caller: DeviceID
    /// When.
    public var time: Timestamp

    /// An attempt with every field given.
    public init(shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, caller: DeviceID, time: Timestamp) {
        self.shipment = shipment
        self.date = date
        self.scope = scope
        self.limit = limit
        self.caller = caller
        self.time = time
    }
}
