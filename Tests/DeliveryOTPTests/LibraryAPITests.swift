import DeliveryOTP
import DeliveryOTPStore
import Foundation
import Testing

/// The embedding API of issue 12, through a plain (not @testable) import: bytes in and out,
/// Sendable async verification, errors with kinds, the attempt-log format.
@Suite("The library as an app or a backend embeds it")
struct LibraryAPITests {
    static let keyringBytes = Array(try! Data(contentsOf: URL(fileURLWithPath: Repository.path("keys-example/keyring.json"))))
    static let scope = try! Scope("DEPOT-12")
    static let berlin = try! DeliveryTimeZone("Europe/Berlin")

    static func deviceKeys(from date: String = "2024-01-16", days: Int = 3) throws -> DeviceKeys {
        try DeviceKeys(
            keyring: try Keyring(json: keyringBytes), scope: scope, from: try DeliveryDate(date), days: days,
            timeZone: berlin)
    }

    @Test("a keyring read from bytes writes back the same bytes, from [UInt8] and from Data alike")
    func keyringRoundTrip() throws {
        let keyring = try Keyring(json: Self.keyringBytes)
        let again = try Keyring(json: Data(keyring.jsonBytes()))
        #expect(again.jsonBytes() == keyring.jsonBytes())
        #expect(keyring.keys.map(\.id) == again.keys.map(\.id))
        #expect(zip(keyring.keys, again.keys).allSatisfy { $0.secret == $1.secret })
        #expect(keyring.withJSON { Array($0) } == keyring.jsonBytes())
    }

    @Test("a keyring sealed with a passphrase opens from bytes with it, and only with it")
    func sealedKeyring() throws {
        let keyring = try Keyring(json: Self.keyringBytes)
        let passphrase = try Passphrase(bytes: Array("correct horse battery staple".utf8))
        let sealed = try keyring.sealed(passphrase: passphrase)
        #expect(Keyring.isEncrypted(sealed))
        #expect(!Keyring.isEncrypted(Self.keyringBytes))
        // No secret in the sealed bytes: the base64 of each master secret is absent.
        let text = String(decoding: sealed, as: UTF8.self)
        #expect(!text.contains("RVhBTVBMRS1PTkxZ"))
        let opened = try Keyring(json: sealed, passphrase: passphrase)
        #expect(opened.jsonBytes() == keyring.jsonBytes())
        #expect(throws: KeyringError.passphraseRequired) { try Keyring(json: sealed) }
        #expect(throws: KeyringError.wrongPassphrase) {
            try Keyring(json: sealed, passphrase: try Passphrase("a different passphrase"))
        }
    }

    @Test("device keys round-trip through bytes, and a wiped buffer is all zeros")
    func deviceKeysRoundTrip() throws {
        let keys = try Self.deviceKeys()
        var bytes = keys.jsonBytes()
        let parsed = try DeviceKeys(json: bytes)
        #expect(parsed.jsonBytes() == bytes)
        #expect(parsed.entries.map(\.date.description) == ["2024-01-16", "2024-01-17", "2024-01-18"])
        let count = bytes.count
        SecretBuffer.wipe(&bytes)
        #expect(bytes.count == count && bytes.allSatisfy { $0 == 0 })
        #expect(throws: DeviceKeysError.notJSON) { try DeviceKeys(json: bytes) }
    }

    /// A door in an actor, as a handheld app would hold it.
    actor Door {
        let verifier: CourierVerifier<SQLiteAttemptStore>
        init(_ verifier: CourierVerifier<SQLiteAttemptStore>) { self.verifier = verifier }
        func check(_ typed: String, _ shipment: ShipmentID) async throws(CourierError) -> DoorOutcome {
            try await verifier.verify(typed, for: shipment)
        }
    }

    @Test("the async verify from an actor counts durably, like the blocking one")
    func asyncVerifyFromAnActor() async throws {
        let directory = try TemporaryDirectory()
        let instant = Timestamp(rfc3339: "2024-01-17T10:00:00+01:00")!
        let keys = try Self.deviceKeys()
        let store = try SQLiteAttemptStore(path: directory.file("attempts.sqlite"))
        let door = Door(try CourierVerifier(deviceKeys: keys, store: store, allowExampleKeys: true, clock: { instant }))
        let shipment = try ShipmentID("TBA123456789000")
        let right = CodeGenerator(dayKey: try keys.dayKey(scope: Self.scope, date: DeliveryDate("2024-01-17")).dayKey)
            .code(for: shipment).description
        let wrong = right == "000000" ? "000001" : "000000"
        #expect(try await door.check(wrong, shipment) == .rejected(attemptsLeft: 4))
        #expect(try await door.check(right, shipment) == .accepted)
        // A second store on the same file sees both attempts: they were committed.
        let records = try SQLiteAttemptStore(path: directory.file("attempts.sqlite")).records(since: nil)
        #expect(records.map(\.outcome) == [.rejected, .accepted])
    }

    @Test("input that is not six digits counts nothing: '12345a' leaves all five attempts")
    func notACodeCountsNothing() throws {
        let instant = Timestamp(rfc3339: "2024-01-17T10:00:00+01:00")!
        let store = InMemoryAttemptStore()
        let door = try CourierVerifier(deviceKeys: try Self.deviceKeys(), store: store, allowExampleKeys: true, clock: { instant })
        let shipment = try ShipmentID("TBA123456789000")
        for typed in ["12345a", "12345", "1234567", "", "١٢٣٤٥٦"] {
            #expect(try door.verify(typed, for: shipment) == .notACode)
        }
        #expect(try store.records(since: nil).isEmpty)
        let right = CodeGenerator(dayKey: try door.deviceKeys.dayKey(scope: Self.scope, date: DeliveryDate("2024-01-17")).dayKey)
            .code(for: shipment).description
        let wrong = right == "000000" ? "000001" : "000000"
        #expect(try door.verify(wrong, for: shipment) == .rejected(attemptsLeft: 4))
    }

    @Test("day keys of the published example keys are refused at the door unless the app allows them")
    func exampleKeysRefused() throws {
        let keys = try Self.deviceKeys()
        #expect(keys.isExample)
        #expect(throws: CourierError.exampleKeys) { try CourierVerifier(deviceKeys: keys, store: InMemoryAttemptStore()) }
        #expect((try? CourierVerifier(deviceKeys: keys, store: InMemoryAttemptStore(), allowExampleKeys: true)) != nil)
    }

    @Test("example day keys with the example mark removed are still known as example keys")
    func exampleKeysWithoutTheMark() throws {
        let text = String(decoding: try Self.deviceKeys().jsonBytes(), as: UTF8.self)
        let unmarked = text.replacingOccurrences(of: "  \"example\": true,\n", with: "")
        #expect(unmarked != text)
        let keys = try DeviceKeys(json: Array(unmarked.utf8))
        #expect(keys.isExample)
        #expect(throws: CourierError.exampleKeys) { try CourierVerifier(deviceKeys: keys, store: InMemoryAttemptStore()) }
    }

    @Test("a store written by schema 1 opens, migrates to the current schema and keeps its attempts")
    func schemaOneStoreMigrates() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("v1.sqlite")
        // The schema the first release wrote, with GRDB's record of its one migration, and one attempt.
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript(\"\"\"
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1');
            CREATE TABLE attempt (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, shipment TEXT NOT NULL,
              delivery_date TEXT NOT NULL, scope TEXT NOT NULL, outcome TEXT NOT NULL, attempt INTEGER, device_id TEXT);
            CREATE INDEX attempt_by_shipment ON attempt (shipment, delivery_date);
            CREATE TABLE handover (shipment TEXT NOT NULL, delivery_date TEXT NOT NULL, accepted_at INTEGER NOT NULL,
              PRIMARY KEY (shipment, delivery_date));
            INSERT INTO attempt (time, shipment, delivery_date, scope, outcome, attempt, device_id)
              VALUES (1705482000, 'TBA1', '2024-01-17', 'DEPOT-12', 'rejected', 1, NULL);
            PRAGMA user_version = 1;
            \"\"\")
            c.commit()
            """
        try await CommandRunner.runTool("/usr/bin/python3", ["-c", script, path])
        let store = try SQLiteAttemptStore(path: path)
        let records = try store.records(since: nil)
        #expect(records.map(\.shipment.rawValue) == ["TBA1"])
        #expect(records.map(\.outcome) == [.rejected])
        // Migrated: the current version and our application id, read by another connection.
        let check = try await CommandRunner.runTool(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('PRAGMA user_version').fetchone()[0], c.execute('PRAGMA application_id').fetchone()[0])",
                path,
            ])
        #expect(check.stdout == "\(SQLiteAttemptStore.schemaVersion) \(SQLiteAttemptStore.applicationID)\n")
    }

    @Test("another program's database with schema version 1 and no id is not migrated into a store")
    func foreignVersionOneRefused() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("other.sqlite")
        try await CommandRunner.runTool(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE notes (x)'); c.execute('PRAGMA user_version = 1'); c.commit()",
                path,
            ])
        do { _ = try SQLiteAttemptStore(path: path); Issue.record("migrated another program's database") } catch {
            #expect(error.kind == .notADatabase)
        }
        let tables = try await CommandRunner.runTool(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,sys; print(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"SELECT name FROM sqlite_master WHERE type='table'\")))",
                path,
            ])
        #expect(tables.stdout == "['notes']\n")
    }

    @Test("a store open in this process stays locked for others after another handle to it opened and closed")
    func lockSurvivesASecondOpen() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("attempts.sqlite")
        let store = try SQLiteAttemptStore(path: path)
        _ = try SQLiteAttemptStore(path: path)  // opens and closes its own descriptor of the same file
        // SQLite in WAL mode holds a shared lock on the file while a connection is open; with it gone,
        // another process would take the WAL for unused. fcntl(F_GETLK) from another process sees it.
        let probe = """
            import fcntl, os, struct, sys
            fd = os.open(sys.argv[1], os.O_RDWR)
            # Would an exclusive lock on SQLite's shared-lock range conflict with a lock held elsewhere?
            request = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 1073741826, 510, 0)
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, request)
            print('locked' if struct.unpack('hhqqi', answer)[0] != fcntl.F_UNLCK else 'unlocked')
            """
        let result = try await CommandRunner.runTool("/usr/bin/python3", ["-c", probe, path])
        #expect(result.stdout == "locked\n")
        _ = try store.records(since: nil)
    }

    @Test("another process holding the write lock past the busy timeout is kind busy, and nothing is counted")
    func busyStore() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("attempts.sqlite")
        let store = try SQLiteAttemptStore(path: path, busyTimeout: .milliseconds(200))
        let time = Timestamp(rfc3339: "2024-01-17T10:00:00Z")!
        let shipment = try ShipmentID("TBA1"), date = try DeliveryDate("2024-01-17")
        // The holder's start, the busy wait and the holder's end on a thread of their own, not the test pool's.
        let (ready, admission) = try await offPool { () throws -> (String, Result<AttemptAdmission, AttemptStoreError>) in
            // Another process takes the write lock and holds it until it is killed.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            holder.arguments = [
                "-c",
                // The test runner's threads block SIGTERM and a child inherits that: unblock it, so terminate() ends it.
                "import signal, sqlite3, sys, time\nsignal.pthread_sigmask(signal.SIG_SETMASK, [])\n"
                    + "c = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('ready', flush=True)\ntime.sleep(10)",
                path,
            ]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            defer { holder.terminate(); holder.waitUntilExit() }
            // Wait for the whole line: a pipe may hand it over in pieces.
            var ready = Data()
            while !ready.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                ready.append(chunk)
            }
            let admission = Result { () throws(AttemptStoreError) in
                try store.begin(shipment: shipment, date: date, scope: Self.scope, limit: 5, deviceID: nil, at: time)
            }
            return (String(decoding: ready, as: UTF8.self), admission)
        }
        #expect(ready == "ready\n")
        switch admission {
        case .success: Issue.record("counted an attempt while another process held the write lock")
        case .failure(let error):
            #expect(error.kind == .busy)
            #expect(error.hint == "another process is using the attempt store; try again")
        }
        #expect(try store.records(since: nil).isEmpty)
    }

    @Test("a missing folder, a file that is not a database and a newer schema are told apart by kind")
    func storeErrorKinds() async throws {
        let directory = try TemporaryDirectory()
        #expect(throws: AttemptStoreError.self) { try SQLiteAttemptStore(path: directory.file("missing/attempts.sqlite")) }
        do { _ = try SQLiteAttemptStore(path: directory.file("missing/attempts.sqlite")) } catch {
            #expect(error.kind == .cannotOpen)
        }
        let garbage = try directory.write("garbage.sqlite", String(repeating: "not a database, just text. ", count: 200))
        do { _ = try SQLiteAttemptStore(path: garbage); Issue.record("opened a text file") } catch {
            #expect(error.kind == .notADatabase)
            #expect(error.hint != nil)
        }
        let newer = directory.file("newer.sqlite")
        _ = try SQLiteAttemptStore(path: newer)
        try await CommandRunner.runTool(
            "/usr/bin/python3",
            ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 99'); c.commit()", newer])
        let before = try Data(contentsOf: URL(fileURLWithPath: newer))
        do { _ = try SQLiteAttemptStore(path: newer); Issue.record("opened a newer schema") } catch {
            #expect(error.kind == .schemaTooNew(found: 99, supported: SQLiteAttemptStore.schemaVersion))
        }
        // Refused through a read-only connection: not a byte written to the file or its WAL
        // (SQLite may make an empty WAL beside a WAL-mode file for any reader).
        #expect(try Data(contentsOf: URL(fileURLWithPath: newer)) == before)
        let wal = (try? FileManager.default.attributesOfItem(atPath: newer + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0)
        // Another program's SQLite database is not mistaken for an old store, and is left alone.
        let foreign = directory.file("foreign.sqlite")
        try await CommandRunner.runTool(
            "/usr/bin/python3",
            ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t (x)'); c.commit()", foreign])
        let foreignBytes = try Data(contentsOf: URL(fileURLWithPath: foreign))
        do { _ = try SQLiteAttemptStore(path: foreign); Issue.record("opened another program's database") } catch {
            #expect(error.kind == .notADatabase)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == foreignBytes)
    }

    @Test("the attempt log's JSON lines read back to the same records, and bad lines name their number")
    func attemptLogRoundTrip() throws {
        let records = [
            AttemptRecord(
                time: Timestamp(rfc3339: "2024-01-17T09:00:00Z")!, shipment: try ShipmentID("TBA\"1"),
                date: try DeliveryDate("2024-01-17"), scope: Self.scope, outcome: .rejected, attempt: 1,
                deviceID: try DeviceID("van-7")),
            AttemptRecord(
                time: Timestamp(rfc3339: "2024-01-17T09:01:00Z")!, shipment: try ShipmentID("TBA2"),
                date: try DeliveryDate("2024-01-17"), scope: try Scope(""), outcome: .alreadyAccepted, attempt: nil,
                deviceID: nil),
        ]
        let text = records.map(\.jsonLine).joined()
        #expect(
            text.hasPrefix(
                #"{"time":"2024-01-17T09:00:00Z","shipmentId":"TBA\"1","deliveryDate":"2024-01-17","scope":"DEPOT-12","outcome":"rejected","attempt":1,"deviceId":"van-7"}"#
            ))
        #expect(try AttemptRecord.records(jsonLines: text) == records)
        #expect(try AttemptRecord.records(jsonLines: text.replacingOccurrences(of: "\n", with: "\r\n")) == records)
        let decoded = try JSONDecoder().decode(AttemptRecord.self, from: try JSONEncoder().encode(records[1]))
        #expect(decoded == records[1])
        #expect(throws: AttemptLogError(line: 2, reason: "deliveryDate: invalid value")) {
            try AttemptRecord.records(
                jsonLines: records[0].jsonLine
                    + text.replacingOccurrences(of: #""deliveryDate":"2024-01-17""#, with: #""deliveryDate":"2024-13-17""#))
        }
        #expect(throws: AttemptLogError(line: 1, reason: "not one JSON object")) { try AttemptRecord.records(jsonLines: "{\n") }
    }

    @Test("codes from the async batch equal the threaded batch's and the generator's, in order")
    func asyncBatch() async throws {
        let keyring = try Keyring(json: Self.keyringBytes)
        let requests = try (0..<40_000).map { row in
            IssueRequest(
                shipment: try ShipmentID("TBA\(row * 7919)"), date: try DeliveryDate(row % 3 == 0 ? "2024-01-17" : "2024-01-18"),
                scope: try Scope("S\(row % 5)"))
        }
        let issuer = try CodeIssuer(
            keyring: keyring, preparing: [CodeIssuer.Slot(scope: try Scope("S0"), date: try DeliveryDate("2024-01-17"))])
        let fromTasks = try await issuer.codes(for: requests)
        #expect(fromTasks == (try issuer.codes(for: requests, threads: 2)))
        let first = try issuer.generator(scope: requests[0].scope, date: requests[0].date).generator
        #expect(fromTasks[0] == first.code(for: requests[0].shipment))
        let uncovered = IssueRequest(shipment: try ShipmentID("X"), date: try DeliveryDate("2020-01-01"), scope: Self.scope)
        await #expect(throws: KeyringError.noKeyCovers(try DeliveryDate("2020-01-01"))) {
            try await issuer.codes(for: requests + [uncovered])
        }
    }

    @Test("a generator takes any collection of IDs, and the end of a day is a Timestamp")
    func collectionsAndEndOfDay() throws {
        let keys = try Self.deviceKeys()
        let generator = CodeGenerator(dayKey: try keys.dayKey(scope: Self.scope, date: DeliveryDate("2024-01-17")).dayKey)
        let ids = try (0..<7).map { try ShipmentID("ID\($0)") }
        #expect(generator.codes(for: ids[1...]) == ids[1...].map { generator.code(for: $0) })
        #expect(generator.codes(for: Set(ids)).count == 7)
        let end = Self.berlin.endOfDay(try DeliveryDate("2024-01-17"))
        #expect(end == Timestamp(rfc3339: "2024-01-17T23:59:59+01:00"))
        #expect(Self.berlin.format(end) == "2024-01-17T23:59:59+01:00")
    }
}
