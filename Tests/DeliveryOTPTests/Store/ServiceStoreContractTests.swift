import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging
import Testing

/// The two stores behind `serve`: one suite, run against a real SQLite file and a real PostgreSQL database.
enum StoreKind: String, CustomTestStringConvertible, CaseIterable, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// SQLite always; PostgreSQL when the test server is there.
    static var available: [StoreKind] { TestPostgres.isAvailable ? [.sqlite, .postgres] : [.sqlite] }

    /// Opens an empty store of this kind, runs `body`, closes and removes it.
    func withStore(_ body: (any ServiceStore) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let folder = try TemporaryDirectory()
            let store = try SQLiteServiceStore(path: folder.file("service.sqlite"))
            do { try await body(store) } catch {
                await store.close()
                throw error
            }
            await store.close()
        case .postgres:
            let location = try await TestPostgres.freshDatabase()
            do {
                // The suite checks counting, not latency: on a test machine busy with other suites a row
                // lock may be held for seconds, so the deadline (3 s in service) is long here.
                let store = try await PostgresServiceStore.open(
                    location, password: TestPostgres.password, attemptDeadline: .seconds(120), logger: Logger(label: "test"))
                do { try await body(store) } catch {
                    await store.close()
                    throw error
                }
                await store.close()
            } catch {
                await TestPostgres.drop(location)
                throw error
            }
            await TestPostgres.drop(location)
        }
    }
}

extension ServiceStore {
    /// The log's records from `since` (from the beginning when nil), without their positions.
    func records(since: Timestamp?, scope: Scope?, limit: Int) async throws(AttemptStoreError) -> [AttemptRecord] {
        try await page(from: since.map { .since($0) } ?? .beginning, scope: scope, limit: limit).lines.map(\.record)
    }
}

@Suite("Every service store")
struct ServiceStoreContractTests {
    static let day = try! DeliveryDate("2024-01-17")
    static let noon = Timestamp(rfc3339: "2024-01-17T10:00:00Z")!
    static let courier = try! DeviceID("courier-a")

    static func attempt(
        _ shipment: String = "TBA123456789000", scope: Scope = .empty, date: DeliveryDate = day, limit: Int = 3,
        at time: Timestamp = noon
    ) -> OnlineAttempt {
        OnlineAttempt(shipment: try! ShipmentID(shipment), date: date, scope: scope, limit: limit, caller: courier, time: time)
    }

    @Test("counts wrong attempts up to the limit, and then answers locked without counting", arguments: StoreKind.available)
    func countsThenLocks(kind: StoreKind) async throws {
        try await kind.withStore { store in
            for number in 1...3 {
                guard case .counted(let ticket, let counted) = try await store.begin(Self.attempt()) else {
                    Issue.record("attempt \(number) was not counted")
                    return
                }
                #expect(counted == number)
                try await store.finish(ticket, accepted: false, at: Self.noon, waitForDurability: number % 2 == 0)
            }
            #expect(try await store.begin(Self.attempt()) == .locked)
            #expect(try await store.begin(Self.attempt()) == .locked)
            let outcomes = try await store.records(since: nil, scope: nil, limit: 100).map(\.outcome)
            #expect(outcomes == [.rejected, .rejected, .rejected, .locked, .locked])
        }
    }

    @Test(
        "locks with the last allowed attempt itself, so a crash before its verdict still leaves the shipment locked",
        arguments: StoreKind.available)
    func lastAttemptLocks(kind: StoreKind) async throws {
        try await kind.withStore { store in
            _ = try await store.begin(Self.attempt(limit: 2))
            guard case .counted(_, 2) = try await store.begin(Self.attempt(limit: 2)) else {
                Issue.record("the second attempt was not counted as number 2")
                return
            }
            // No verdict for either (a replica killed before it answered): the lock holds anyway.
            #expect(try await store.begin(Self.attempt(limit: 2)) == .locked)
            let records = try await store.records(since: nil, scope: nil, limit: 100)
            #expect(records.map(\.outcome) == [.interrupted, .interrupted, .locked])
        }
    }

    @Test("records a handover, after which every attempt is answered already accepted with its time", arguments: StoreKind.available)
    func handover(kind: StoreKind) async throws {
        try await kind.withStore { store in
            guard case .counted(let ticket, 1) = try await store.begin(Self.attempt()) else {
                Issue.record("not counted")
                return
            }
            try await store.finish(ticket, accepted: true, at: Self.noon, waitForDurability: true)
            let later = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch + 60)
            #expect(try await store.begin(Self.attempt(at: later)) == .alreadyAccepted(at: Self.noon))
            let records = try await store.records(since: nil, scope: nil, limit: 100)
            #expect(records.map(\.outcome) == [.accepted, .alreadyAccepted])
            #expect(records.first?.attempt == 1 && records.first?.deviceID == Self.courier)
        }
    }

    @Test("counts each scope, shipment and date on its own", arguments: StoreKind.available)
    func countsSeparately(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let next = try DeliveryDate("2024-01-18")
            for _ in 1...3 { _ = try await store.begin(Self.attempt(limit: 3)) }
            #expect(try await store.begin(Self.attempt(limit: 3)) == .locked)
            #expect(try await store.begin(Self.attempt(scope: try Scope("B"), limit: 3)).counted == 1)
            #expect(try await store.begin(Self.attempt("TBA000000000001", limit: 3)).counted == 1)
            #expect(try await store.begin(Self.attempt(date: next, limit: 3)).counted == 1)
        }
    }

    @Test("refuses a clock set back by more than the tolerance, and counts nothing for it", arguments: StoreKind.available)
    func clockMovedBack(kind: StoreKind) async throws {
        try await kind.withStore { store in
            _ = try await store.begin(Self.attempt())
            let early = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch - AttemptClock.tolerance - 1)
            await #expect {
                _ = try await store.begin(Self.attempt(at: early))
            } throws: { error in
                (error as? AttemptStoreError)?.kind == .clockMovedBack(latest: Self.noon)
            }
            let slightlyEarly = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch - 5)
            #expect(try await store.begin(Self.attempt(at: slightlyEarly)).counted == 2)
            #expect(try await store.records(since: nil, scope: nil, limit: 100).count == 2)
        }
    }

    @Test("admits exactly the limit among many concurrent attempts for one shipment", arguments: StoreKind.available)
    func concurrentAttempts(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let admissions = try await withThrowingTaskGroup(of: AttemptAdmission.self) { group in
                for _ in 0..<60 { group.addTask { try await store.begin(Self.attempt(limit: 5)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let numbers = admissions.compactMap(\.counted).sorted()
            #expect(numbers == [1, 2, 3, 4, 5])
            #expect(admissions.filter { $0 == .locked }.count == 55)
        }
    }

    @Test("takes an uploaded log once: the same lines again add nothing, and the log reads them back", arguments: StoreKind.available)
    func uploadIsIdempotent(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let van = try DeviceID("van-1")
            let records = (0..<4).map { index in
                AttemptRecord(
                    time: Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch + Int64(index)),
                    shipment: try! ShipmentID("TBA00000000000\(index)"),
                    date: Self.day, scope: .empty, outcome: index == 3 ? .accepted : .rejected, attempt: 1, deviceID: van)
            }
            #expect(try await store.upload(records + [records[0]], from: van, at: Self.noon) == 4)
            #expect(try await store.upload(records, from: van, at: Self.noon) == 0)
            #expect(try await store.upload(Array(records.prefix(2)) + [records[3]], from: van, at: Self.noon) == 0)
            let read = try await store.records(since: nil, scope: nil, limit: 100)
            #expect(read == records)
        }
    }

    @Test("reads the log from a time, of one scope, oldest first, at most the limit", arguments: StoreKind.available)
    func readsFiltered(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let b = try Scope("B")
            for minute in 0..<6 {
                let time = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch + Int64(minute * 60))
                _ = try await store.begin(Self.attempt("TBA10000000000\(minute)", scope: minute % 2 == 0 ? .empty : b, at: time))
            }
            let since = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch + 120)
            let all = try await store.records(since: since, scope: nil, limit: 100)
            #expect(all.map(\.shipment.rawValue) == ["TBA100000000002", "TBA100000000003", "TBA100000000004", "TBA100000000005"])
            let ofB = try await store.records(since: nil, scope: b, limit: 2)
            #expect(ofB.map(\.shipment.rawValue) == ["TBA100000000001", "TBA100000000003"])
        }
    }

    @Test(
        "pages through a second that holds more lines than a page, each line once and in order, where a time alone repeats the page",
        arguments: StoreKind.available)
    func pagesWithinOneSecond(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let van = try DeviceID("van-1")
            let b = try Scope("B")
            let second = Timestamp(secondsSinceEpoch: Self.noon.secondsSinceEpoch + 60)
            // A line before the second and one after it, and seven in it: uploaded (scope "") and
            // online (scope B), interleaved.
            _ = try await store.begin(Self.attempt("TBA200000000000", at: Self.noon))
            let uploaded = (1...4).map { index in
                AttemptRecord(
                    time: second, shipment: try! ShipmentID("TBA20000000000\(index)"), date: Self.day, scope: .empty, outcome: .rejected,
                    attempt: 1, deviceID: van)
            }
            #expect(try await store.upload(Array(uploaded.prefix(2)), from: van, at: second) == 2)
            for index in 5...7 { _ = try await store.begin(Self.attempt("TBA20000000000\(index)", scope: b, at: second)) }
            #expect(try await store.upload(Array(uploaded.suffix(2)), from: van, at: second) == 2)
            _ = try await store.begin(
                Self.attempt("TBA200000000008", scope: b, at: Timestamp(secondsSinceEpoch: second.secondsSinceEpoch + 1)))

            let whole = try await store.page(from: .beginning, scope: nil, limit: 100)
            #expect(whole.next == nil)
            let all = whole.lines
            #expect(all.count == 9)
            #expect(all.map(\.position) == all.map(\.position).sorted(), "positions grow along the log")
            #expect(Set(all.map(\.position)).count == 9)
            // Nine lines in pages of three: the third page is full and the last.
            #expect(try await Self.pages(of: store, scope: nil, size: 3) == [Array(all[0..<3]), Array(all[3..<6]), Array(all[6..<9])])
            // Scope B's four lines in pages of two.
            let ofB = all.filter { $0.record.scope == b }
            #expect(ofB.count == 4)
            #expect(try await Self.pages(of: store, scope: b, size: 2) == [Array(ofB[0..<2]), Array(ofB[2..<4])])
            // From a time, the second's lines come again whatever the page size: a read by time
            // alone cannot get past this second with pages of three.
            let fromSecond = try await store.page(from: .since(second), scope: nil, limit: 3)
            #expect(fromSecond.lines == Array(all[1..<4]))
            #expect(fromSecond.next == all[3].position)
            #expect(try await store.page(from: .since(all[3].record.time), scope: nil, limit: 3) == fromSecond)
            // After positions that no line has: the lines after them.
            let endOfMinute = AttemptLogPosition(time: second.secondsSinceEpoch - 1, sequence: .max)
            #expect(try await store.page(from: .after(endOfMinute), scope: nil, limit: 100).lines == Array(all[1...]))
            let startOfSecond = AttemptLogPosition(time: second.secondsSinceEpoch, sequence: 0)
            #expect(try await store.page(from: .after(startOfSecond), scope: nil, limit: 100).lines == Array(all[1...]))
            #expect(try await store.page(from: .after(all[8].position), scope: nil, limit: 100) == AttemptLogPage(lines: [], next: nil))
        }
    }

    /// Every page of `store`'s log, each read after the one before, in pages of `size` lines.
    static func pages(of store: any ServiceStore, scope: Scope?, size: Int) async throws -> [[AttemptLogLine]] {
        var pages: [[AttemptLogLine]] = []
        var start = AttemptLogStart.beginning
        for _ in 0..<20 {
            let page = try await store.page(from: start, scope: scope, limit: size)
            pages.append(page.lines)
            guard let next = page.next else { break }
            start = .after(next)
        }
        return pages
    }

    @Test("reads no line for a limit of zero or below, where SQLite read every line and PostgreSQL failed", arguments: StoreKind.available)
    func readsNothingBelowOne(kind: StoreKind) async throws {
        try await kind.withStore { store in
            _ = try await store.begin(Self.attempt())
            for limit in [0, -1, Int.min] {
                #expect(try await store.records(since: nil, scope: nil, limit: limit).isEmpty, "limit \(limit)")
            }
            #expect(try await store.records(since: nil, scope: nil, limit: 1).count == 1)
        }
    }

    @Test("is writable while open", arguments: StoreKind.available)
    func writable(kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(await store.isWritable())
        }
    }
}

extension AttemptAdmission {
    /// The attempt's number when it was counted.
    var counted: Int? {
        if case .counted(_, let number) = self { number } else { nil }
    }
}
