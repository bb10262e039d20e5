import DeliveryOTP
import DeliveryOTPStore
import Foundation
import GRDB

/// The service's store on one machine: a SQLite file (WAL, `synchronous = FULL`, mode 0600)
/// with group commit.
///
/// Every write goes through one writer thread. While a commit is syncing, the writes that
/// arrive queue up; the writer then runs all of them in one transaction, each inside its own
/// savepoint (so one refused write does not undo the others), and one fsync makes them all
/// durable. Each caller is resumed only after the commit that holds its write, so an answer
/// never precedes the durability of its attempt, and durable verifies are not capped at one
/// fsync each. Reads use the pool's reader connections and never wait for the writer.
public final class SQLiteServiceStore: ServiceStore, @unchecked Sendable {
    /// The path as given.
    public let path: String
    /// `PRAGMA application_id` of a service store: the ASCII bytes `DOTS`.
    public static let applicationID: Int32 = 0x444F_5453
    /// The schema version this release writes.
    public static let schemaVersion = 1

    private let pool: DatabasePool
    private let onBatch: @Sendable (Int) -> Void
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Operation] = []
    private var closing = false
    private var stopped = false

    /// One queued write and the caller waiting for it.
    private final class Operation: @unchecked Sendable {
        let body: (Database) throws -> any Sendable
        /// Nil for a write nobody waits for.
        let continuation: CheckedContinuation<Result<any Sendable, AttemptStoreError>, Never>?
        var outcome: Result<any Sendable, AttemptStoreError>?
        init(
            body: @escaping (Database) throws -> any Sendable,
            continuation: CheckedContinuation<Result<any Sendable, AttemptStoreError>, Never>?
        ) {
            self.body = body
            self.continuation = continuation
        }
    }

    /// Opens (or creates, mode 0600) the store at `path` and starts its writer thread.
    /// `onBatch` is told the size of every committed batch (for metrics).
    public init(path: String, busyTimeout: Duration = .seconds(10), onBatch: @escaping @Sendable (Int) -> Void = { _ in })
        throws(AttemptStoreError)
    {
        self.path = path
        self.onBatch = onBatch
        if access(path, F_OK) != 0 {
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 && errno != EEXIST {
                throw AttemptStoreError("cannot create \(path): \(String(cString: strerror(errno)))", kind: .cannotOpen)
            }
            if fd >= 0 { Glibc.close(fd) }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Double(busyTimeout.components.seconds))
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB sets synchronous = NORMAL on the WAL writer; FULL syncs the WAL at every commit.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.read { db in try Self.check(db, path: path) }
            try Self.migrator.migrate(pool)
        } catch let error as AttemptStoreError {
            throw error
        } catch {
            throw SQLiteAttemptStore.storeError("cannot use \(path) as the service's state file", error, opening: true)
        }
        let thread = Thread { [self] in writerLoop() }
        thread.name = "DeliveryOTP.GroupCommit"
        thread.start()
    }

    /// A new file, or a service store of this or an earlier schema; never the device's store or another program's database.
    private static func check(_ db: Database, path: String) throws {
        try SQLiteAttemptStore.checkIdentity(
            db, path: path, applicationID: applicationID, allowedTables: [], schemaVersion: schemaVersion, name: "a service state file")
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("service-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE attempt (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        time INTEGER NOT NULL,
                        shipment TEXT NOT NULL,
                        delivery_date TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        attempt INTEGER,
                        device_id TEXT,
                        source TEXT NOT NULL CHECK (source IN ('online', 'upload'))
                    );
                    CREATE INDEX attempt_by_shipment ON attempt (scope, shipment, delivery_date);
                    CREATE INDEX attempt_by_time ON attempt (time);
                    CREATE TABLE handover (
                        scope TEXT NOT NULL, shipment TEXT NOT NULL, delivery_date TEXT NOT NULL, accepted_at INTEGER NOT NULL,
                        PRIMARY KEY (scope, shipment, delivery_date));
                    CREATE TABLE lock (
                        scope TEXT NOT NULL, shipment TEXT NOT NULL, delivery_date TEXT NOT NULL, locked_at INTEGER NOT NULL,
                        PRIMARY KEY (scope, shipment, delivery_date));
                    CREATE TABLE clock (id INTEGER PRIMARY KEY CHECK (id = 1), latest INTEGER NOT NULL);
                    CREATE TABLE upload (uploader TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (uploader, line));
                    PRAGMA application_id = \(applicationID);
                    PRAGMA user_version = 1;
                    """)
        }
        return migrator
    }

    /// The value of `PRAGMA synchronous` on the writer connection (2 is FULL).
    package func synchronousLevel() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    // MARK: The writer

    private func writerLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !closing { condition.wait() }
            if pending.isEmpty {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = pending
            pending = []
            condition.unlock()
            commit(batch)
        }
    }

    private func commit(_ batch: [Operation]) {
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for operation in batch {
                        do {
                            var value: (any Sendable)?
                            try db.inSavepoint {
                                value = try operation.body(db)
                                return .commit
                            }
                            operation.outcome = .success(value!)
                        } catch let error as AttemptStoreError {
                            operation.outcome = .failure(error)
                        } catch {
                            operation.outcome = .failure(SQLiteAttemptStore.storeError("cannot write to \(path)", error))
                        }
                    }
                    return .commit
                }
            }
        } catch {
            // The commit failed: nothing in the batch is durable, so every caller gets the error.
            let failure = SQLiteAttemptStore.storeError("cannot commit to \(path)", error)
            for operation in batch { operation.continuation?.resume(returning: .failure(failure)) }
            return
        }
        onBatch(batch.count)
        for operation in batch { operation.continuation?.resume(returning: operation.outcome!) }
    }

    /// Queues `body` for the next group commit and waits until that commit is durable.
    private func write<T: Sendable>(_ body: @escaping (Database) throws -> T) async throws(AttemptStoreError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<any Sendable, AttemptStoreError>, Never>) in
            condition.lock()
            if closing {
                condition.unlock()
                continuation.resume(returning: .failure(AttemptStoreError("the store \(path) is closing", kind: .busy)))
                return
            }
            pending.append(Operation(body: { db in try body(db) }, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
        return try result.map { $0 as! T }.get()
    }

    // MARK: ServiceStore

    public func begin(_ attempt: OnlineAttempt) async throws(AttemptStoreError) -> AttemptAdmission {
        try await write { db in try Self.begin(attempt, db) }
    }

    private static func begin(_ attempt: OnlineAttempt, _ db: Database) throws -> AttemptAdmission {
        let id = attempt.shipment.rawValue, day = attempt.date.description, time = attempt.time.secondsSinceEpoch
        let scope = attempt.scope.rawValue
        func insert(_ outcome: AttemptRecord.Outcome, _ number: Int?) throws -> Int64 {
            try db.cachedStatement(
                sql: """
                    INSERT INTO attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'online')
                    """
            ).execute(arguments: [time, id, day, attempt.scope.rawValue, outcome.rawValue, number, attempt.caller.rawValue])
            return db.lastInsertedRowID
        }
        // The service's clock may not run back by more than the tolerance: that could reopen a day's counts.
        if let latest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT latest FROM clock WHERE id = 1")),
            time < latest - AttemptClock.tolerance
        {
            throw AttemptStoreError(
                "the clock (\(attempt.time)) is behind the latest attempt time (\(Timestamp(secondsSinceEpoch: latest))); nothing was counted",
                kind: .clockMovedBack(latest: Timestamp(secondsSinceEpoch: latest)))
        }
        try db.cachedStatement(
            sql: "INSERT INTO clock (id, latest) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET latest = MAX(latest, excluded.latest)"
        ).execute(arguments: [time])
        if let acceptedAt = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT accepted_at FROM handover WHERE scope = ? AND shipment = ? AND delivery_date = ?"),
            arguments: [scope, id, day])
        {
            _ = try insert(.alreadyAccepted, nil)
            return .alreadyAccepted(at: Timestamp(secondsSinceEpoch: acceptedAt))
        }
        let isLocked =
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM lock WHERE scope = ? AND shipment = ? AND delivery_date = ?"),
                arguments: [scope, id, day])
            ?? false
        let counted =
            try Int.fetchOne(
                db.cachedStatement(
                    sql:
                        "SELECT COUNT(*) FROM attempt WHERE scope = ? AND shipment = ? AND delivery_date = ? AND attempt IS NOT NULL AND source = 'online'"
                ),
                arguments: [scope, id, day]) ?? 0
        func lock() throws {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO lock (scope, shipment, delivery_date, locked_at) VALUES (?, ?, ?, ?)")
                .execute(
                    arguments: [scope, id, day, time])
        }
        if isLocked || counted >= attempt.limit {
            if !isLocked { try lock() }
            _ = try insert(.locked, nil)
            return .locked
        }
        let row = try insert(.interrupted, counted + 1)
        // The last attempt the limit allows locks the shipment in the same commit (SPEC.md §9).
        if counted + 1 >= attempt.limit { try lock() }
        return .counted(AttemptTicket(id: row), number: counted + 1)
    }

    public func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp, waitForDurability: Bool) async throws(AttemptStoreError)
    {
        let body: (Database) throws -> Void = { db in
            try db.cachedStatement(sql: "UPDATE attempt SET outcome = ? WHERE id = ?").execute(arguments: [
                (accepted ? AttemptRecord.Outcome.accepted : .rejected).rawValue, ticket.id,
            ])
            if accepted {
                try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO handover (scope, shipment, delivery_date, accepted_at)
                        SELECT scope, shipment, delivery_date, ? FROM attempt WHERE id = ?
                        """
                ).execute(arguments: [time.secondsSinceEpoch, ticket.id])
            }
        }
        if waitForDurability {
            try await write(body)
        } else {
            enqueue(body)
        }
    }

    /// Queues `body` for the next group commit without waiting for it; its failure is not reported.
    private func enqueue(_ body: @escaping (Database) throws -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return }
        pending.append(
            Operation(
                body: { db in
                    try body(db); return 0
                }, continuation: nil))
        condition.signal()
    }

    public func upload(_ records: [AttemptRecord], from uploader: DeviceID, at time: Timestamp) async throws(AttemptStoreError) -> Int {
        try await write { db in
            var added = 0
            for record in records {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO upload (uploader, line) VALUES (?, ?)", arguments: [uploader.rawValue, record.jsonLine])
                guard db.changesCount == 1 else { continue }
                added += 1
                try db.execute(
                    sql: """
                        INSERT INTO attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id, source)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 'upload')
                        """,
                    arguments: [
                        record.time.secondsSinceEpoch, record.shipment.rawValue, record.date.description, record.scope.rawValue,
                        record.outcome.rawValue, record.attempt, (record.deviceID ?? uploader).rawValue,
                    ])
            }
            return added
        }
    }

    public func page(from start: AttemptLogStart, scope: Scope?, limit: Int) async throws(AttemptStoreError) -> AttemptLogPage {
        // A barrier through the writer first: verdicts queued without waiting are committed by
        // the time the log is read, so a reader never sees them still `interrupted`.
        _ = try await write { _ in 0 }
        let bound = start.bound
        do {
            let rows = try await pool.read { db in
                // The index on time (which holds the row id) finds the first second; only that
                // second's lines are read past by id.
                var sql = """
                    SELECT id, time, shipment, delivery_date, scope, outcome, attempt, device_id FROM attempt
                    WHERE time >= ? AND (time > ? OR id > ?)
                    """
                var arguments: StatementArguments = [bound.time, bound.time, bound.sequence]
                if let scope {
                    sql += " AND scope = ?"
                    arguments += [scope.rawValue]
                }
                sql += " ORDER BY time, id LIMIT ?"
                arguments += [AttemptLogPage.rowsToRead(forLimit: limit)]
                return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                    (position: AttemptLogPosition(time: row["time"], sequence: row["id"]), record: Self.record(row))
                }
            }
            return AttemptLogPage(rows: rows, limit: limit)
        } catch {
            throw SQLiteAttemptStore.storeError("cannot read \(path)", error)
        }
    }

    private static func record(_ row: Row) -> AttemptRecord? {
        guard let shipment = try? ShipmentID(row["shipment"] as String),
            let date = try? DeliveryDate(row["delivery_date"] as String),
            let scope = try? Scope(row["scope"] as String),
            let outcome = AttemptRecord.Outcome(rawValue: row["outcome"])
        else { return nil }
        let device: String? = row["device_id"]
        return AttemptRecord(
            time: Timestamp(secondsSinceEpoch: row["time"]), shipment: shipment, date: date, scope: scope, outcome: outcome,
            attempt: row["attempt"], deviceID: device.flatMap { try? DeviceID($0) })
    }

    public func isWritable() async -> Bool {
        do {
            _ = try await write { db in try Int.fetchOne(db, sql: "SELECT 1") ?? 0 }
            return true
        } catch {
            return false
        }
    }

    public func close() async {
        beginClosing()
        // Wait for the writer to drain what is queued, off the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [self] in
                condition.lock()
                while !stopped { condition.wait() }
                condition.unlock()
                try? pool.close()
                continuation.resume()
            }
        }
    }

    private func beginClosing() {
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
    }
}
