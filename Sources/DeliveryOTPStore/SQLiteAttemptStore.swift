import DeliveryOTP
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// The courier device's attempt store: a SQLite file (WAL, `synchronous=FULL`)
/// in which every attempt is committed, and so fsynced, before its code is
/// looked at (SPEC.md §9). It also keeps each day's locks and the latest time
/// it has seen (see `AttemptStore`). The file is created with mode 0600 and
/// carries a schema version, so later releases can migrate it.
///
/// One value (and its copies) holds one connection, and calls on it are serialised,
/// so it can be shared between tasks. Its methods block while SQLite syncs the file.
public struct SQLiteAttemptStore: AttemptStore, Sendable {
    /// The path of the SQLite file, as given.
    public let path: String
    private let queue: DatabaseQueue

    /// The schema version this release writes (`PRAGMA user_version`).
    public static let schemaVersion = 3

    /// `PRAGMA application_id` of attempt stores from schema version 3 on: the ASCII bytes `DOTP`.
    public static let applicationID: Int32 = 0x444F_5450

    /// Every table a store of any schema version holds, GRDB's and SQLite's own included.
    private static let tables: Set<String> = ["attempt", "handover", "lock", "clock", "grdb_migrations", "sqlite_sequence"]

    /// Opens the store, creating it (mode 0600) and migrating it as needed.
    ///
    /// Fails with kind `AttemptStoreError.Kind.cannotOpen` when the file cannot be opened
    /// or created, `AttemptStoreError.Kind.notADatabase` when it is not an attempt store,
    /// and `AttemptStoreError.Kind.schemaTooNew(found:supported:)` when a newer release wrote it.
    ///
    /// `busyTimeout` is how long a call waits for another process that holds the store's write
    /// lock before it fails with kind `AttemptStoreError.Kind.busy` (ten seconds by default; a
    /// service answering online verifies may want less).
    public init(path: String, busyTimeout: Duration = .seconds(10)) throws(AttemptStoreError) {
        self.path = path
        let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
        // Create the file ourselves so that it, and the -wal and -shm files SQLite makes
        // with the same mode, are never readable by others. Only a file that does not exist
        // yet is opened here: on Linux, closing any descriptor of a file drops every POSIX
        // lock this process holds on it, SQLite's own included, and another process would
        // then take the WAL of a store that is open here for unused.
        if access(path, F_OK) != 0 {
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 || errno == EEXIST else {
                throw AttemptStoreError("cannot open \(path): \(String(cString: strerror(errno)))", kind: .cannotOpen)
            }
            if fd >= 0 { close(fd) }
        } else if access(path, R_OK | W_OK) != 0 {
            throw AttemptStoreError("cannot open \(path): \(String(cString: strerror(errno)))", kind: .cannotOpen)
        }
        // Opening for writing in WAL mode writes to the file at once, so a file that is not an
        // attempt store, or one from a newer release, is refused through a read-only connection first.
        try Self.inspect(path, busyTimeout: max(0, seconds))
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(max(0, seconds))
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            // GRDB's WAL set-up (after prepareDatabase) sets synchronous = NORMAL, under
            // which a commit is not synced until a checkpoint. FULL syncs the WAL at every
            // commit, so an attempt is on disk before its outcome is computed (SPEC.md §9).
            // A DatabaseQueue has one connection, so this holds for every transaction.
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // Again on this connection, before migrating: another process may have changed
            // the file since the read-only look.
            try queue.read { db in try Self.check(db, path: path) }
            try Self.migrator.migrate(queue)
        } catch let error as AttemptStoreError {
            throw error
        } catch {
            throw Self.storeError("cannot use \(path) as a state file", error, opening: true)
        }
    }

    /// Refuses, through a read-only connection that writes nothing, a file that is not an attempt
    /// store of this or an earlier schema: not SQLite; another program's database (a foreign
    /// application id, or tables other than a store's); or a newer release's store.
    /// A new, empty file passes. The read-only connection sees what is still in the WAL.
    private static func inspect(_ path: String, busyTimeout: Double) throws(AttemptStoreError) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        do {
            let probe = try DatabaseQueue(path: path, configuration: configuration)
            try probe.read { db in try check(db, path: path) }
        } catch let error as AttemptStoreError {
            throw error
        } catch {
            throw storeError("cannot use \(path) as a state file", error, opening: true)
        }
    }

    /// The one test of what a connection sees: our application id, or none and only a store's
    /// tables (a new file has none); and a schema version this release knows.
    private static func check(_ db: Database, path: String) throws {
        try checkIdentity(
            db, path: path, applicationID: applicationID, allowedTables: tables, schemaVersion: schemaVersion, name: "an attempt store")
    }

    /// The identity test of a store's SQLite file, shared with the service's store: the given
    /// application id, or none and no table outside `allowedTables` (a new file has none); and a
    /// schema version no newer than `schemaVersion`. `name` words the refusal ("an attempt store").
    package static func checkIdentity(
        _ db: Database, path: String, applicationID: Int32, allowedTables: Set<String>, schemaVersion: Int, name: String
    ) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let application = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let found = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        guard application == applicationID || (application == 0 && found.isSubset(of: allowedTables)) else {
            throw AttemptStoreError("\(path) is not \(name)", kind: .notADatabase)
        }
        guard version <= schemaVersion else {
            throw AttemptStoreError(
                "\(path) has schema version \(version); this release knows \(schemaVersion)",
                kind: .schemaTooNew(found: version, supported: schemaVersion))
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
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
                        device_id TEXT
                    );
                    CREATE INDEX attempt_by_shipment ON attempt (shipment, delivery_date);
                    CREATE TABLE handover (
                        shipment TEXT NOT NULL,
                        delivery_date TEXT NOT NULL,
                        accepted_at INTEGER NOT NULL,
                        PRIMARY KEY (shipment, delivery_date)
                    );
                    PRAGMA user_version = 1;
                    """)
        }
        migrator.registerMigration("v2") { db in
            // A lock outlives any limit a later call passes; the clock table holds one row.
            try db.execute(
                sql: """
                    CREATE TABLE lock (
                        shipment TEXT NOT NULL,
                        delivery_date TEXT NOT NULL,
                        locked_at INTEGER NOT NULL,
                        PRIMARY KEY (shipment, delivery_date)
                    );
                    CREATE TABLE clock (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        latest INTEGER NOT NULL
                    );
                    INSERT INTO clock (id, latest) SELECT 1, MAX(time) FROM attempt WHERE time IS NOT NULL HAVING COUNT(*) > 0;
                    INSERT OR IGNORE INTO lock (shipment, delivery_date, locked_at)
                        SELECT shipment, delivery_date, MAX(time) FROM attempt WHERE outcome = 'locked' GROUP BY shipment, delivery_date;
                    PRAGMA user_version = 2;
                    """)
        }
        migrator.registerMigration("v3") { db in
            // Marks the file as an attempt store, so that the header check can tell it from other databases.
            try db.execute(sql: "PRAGMA application_id = \(applicationID); PRAGMA user_version = 3;")
        }
        return migrator
    }

    /// The value of `PRAGMA synchronous` on the store's connection (2 is FULL).
    package func synchronousLevel() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Counts an attempt, or records a locked or already-accepted try, in one immediate transaction
    /// whose commit makes it durable. On any `AttemptStoreError` (such as kind `clockMovedBack` or `busy`)
    /// nothing was counted.
    public func begin(
        shipment: ShipmentID, date: DeliveryDate, scope: Scope, limit: Int, deviceID: DeviceID?,
        at time: Timestamp
    ) throws(AttemptStoreError) -> AttemptAdmission {
        let id = shipment.rawValue, day = date.description
        func insert(_ db: Database, _ outcome: AttemptRecord.Outcome, _ attempt: Int?) throws -> Int64 {
            try db.execute(
                sql: """
                    INSERT INTO attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [time.secondsSinceEpoch, id, day, scope.rawValue, outcome.rawValue, attempt, deviceID?.rawValue])
            return db.lastInsertedRowID
        }
        do {
            // One immediate transaction: read the count and record the attempt
            // under the write lock; its commit is the fsync that makes it durable.
            var admission: AttemptAdmission = .locked
            try queue.inTransaction(.immediate) { db in
                let latest = try Int64.fetchOne(db, sql: "SELECT latest FROM clock WHERE id = 1")
                let latestDate = try String.fetchOne(db, sql: "SELECT MAX(delivery_date) FROM attempt").flatMap { try? DeliveryDate($0) }
                try AttemptClock.check(time, date: date, latest: latest.map(Timestamp.init(secondsSinceEpoch:)), latestDate: latestDate)
                try db.execute(
                    sql: """
                        INSERT INTO clock (id, latest) VALUES (1, ?)
                        ON CONFLICT (id) DO UPDATE SET latest = MAX(latest, excluded.latest)
                        """, arguments: [time.secondsSinceEpoch])
                if let acceptedAt = try Int64.fetchOne(
                    db, sql: "SELECT accepted_at FROM handover WHERE shipment = ? AND delivery_date = ?", arguments: [id, day])
                {
                    _ = try insert(db, .alreadyAccepted, nil)
                    admission = .alreadyAccepted(at: Timestamp(secondsSinceEpoch: acceptedAt))
                    return .commit
                }
                let isLocked =
                    try Bool.fetchOne(
                        db, sql: "SELECT 1 FROM lock WHERE shipment = ? AND delivery_date = ?", arguments: [id, day]) ?? false
                let counted =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM attempt WHERE shipment = ? AND delivery_date = ? AND attempt IS NOT NULL",
                        arguments: [id, day]) ?? 0
                if isLocked || counted >= limit {
                    if !isLocked { try Self.lock(db, id, day, at: time) }
                    _ = try insert(db, .locked, nil)
                    admission = .locked
                    return .commit
                }
                let row = try insert(db, .interrupted, counted + 1)
                // The last attempt the limit allows locks the shipment now, in the same commit, so a
                // crash before its verdict cannot leave it open to a later, looser limit. (An accepted
                // code still opens the door: the handover is checked before the lock.)
                if counted + 1 >= limit { try Self.lock(db, id, day, at: time) }
                admission = .counted(AttemptTicket(id: row), number: counted + 1)
                return .commit
            }
            return admission
        } catch let error as AttemptStoreError {
            throw error
        } catch {
            throw Self.storeError("cannot record the attempt in \(path)", error)
        }
    }

    private static func lock(_ db: Database, _ shipment: String, _ day: String, at time: Timestamp) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO lock (shipment, delivery_date, locked_at) VALUES (?, ?, ?)",
            arguments: [shipment, day, time.secondsSinceEpoch])
    }

    /// Stores the verdict of a counted attempt; an accepted one records the handover for its day.
    public func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp) throws(AttemptStoreError) {
        do {
            try queue.inTransaction(.immediate) { db in
                try db.execute(
                    sql: "UPDATE attempt SET outcome = ? WHERE id = ?",
                    arguments: [accepted ? AttemptRecord.Outcome.accepted.rawValue : AttemptRecord.Outcome.rejected.rawValue, ticket.id])
                if accepted {
                    try db.execute(
                        sql: """
                            INSERT OR IGNORE INTO handover (shipment, delivery_date, accepted_at)
                            SELECT shipment, delivery_date, ? FROM attempt WHERE id = ?
                            """, arguments: [time.secondsSinceEpoch, ticket.id])
                }
                return .commit
            }
        } catch {
            throw Self.storeError("cannot record the verdict in \(path)", error)
        }
    }

    /// The attempt log in the order the attempts began, from `since` on (all of it when nil).
    /// Rows that no longer validate are skipped.
    public func records(since: Timestamp?) throws(AttemptStoreError) -> [AttemptRecord] {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT time, shipment, delivery_date, scope, outcome, attempt, device_id FROM attempt
                        WHERE time >= ? ORDER BY id
                        """, arguments: [since?.secondsSinceEpoch ?? Int64.min]
                ).compactMap { row -> AttemptRecord? in
                    // Rows were validated when written; anything else is skipped rather than trusted.
                    guard let shipment = try? ShipmentID(row["shipment"] as String),
                        let date = try? DeliveryDate(row["delivery_date"] as String),
                        let scope = try? Scope(row["scope"] as String),
                        let outcome = AttemptRecord.Outcome(rawValue: row["outcome"])
                    else { return nil }
                    let device: String? = row["device_id"]
                    return AttemptRecord(
                        time: Timestamp(secondsSinceEpoch: row["time"]), shipment: shipment, date: date,
                        scope: scope, outcome: outcome, attempt: row["attempt"],
                        deviceID: device.flatMap { try? DeviceID($0) })
                }
            }
        } catch {
            throw Self.storeError("cannot read \(path)", error)
        }
    }

    /// Deletes the attempts, handovers and locks of delivery dates before `date`, in one transaction.
    /// The latest time the store has seen is kept.
    public func prune(before date: DeliveryDate) throws(AttemptStoreError) {
        do {
            try queue.inTransaction(.immediate) { db in
                try db.execute(sql: "DELETE FROM attempt WHERE delivery_date < ?", arguments: [date.description])
                try db.execute(sql: "DELETE FROM handover WHERE delivery_date < ?", arguments: [date.description])
                try db.execute(sql: "DELETE FROM lock WHERE delivery_date < ?", arguments: [date.description])
                return .commit
            }
        } catch {
            throw Self.storeError("cannot prune \(path)", error)
        }
    }

    /// One line, from SQLite's own message, with a kind from SQLite's primary result code.
    package static func storeError(_ context: String, _ error: any Error, opening: Bool = false) -> AttemptStoreError {
        guard let error = error as? DatabaseError else {
            return AttemptStoreError("\(context): \(error)", kind: opening ? .cannotOpen : .io)
        }
        let message = "\(context): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")"
        let kind: AttemptStoreError.Kind =
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: .notADatabase
            case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH: .cannotOpen
            default: .io
            }
        return AttemptStoreError(message, kind: kind)
    }
}
