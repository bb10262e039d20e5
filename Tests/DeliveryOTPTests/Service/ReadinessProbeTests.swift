import DeliveryOTP
import DeliveryOTPServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// `/readyz` asked by many at once: the store is checked once, not once a request.
@Suite("Readiness under a flood of /readyz")
struct ReadinessProbeTests {
    /// Counts its checks; each takes `delay` and answers `answer`.
    final class CountingCheck: Sendable {
        let checks = Locked(0)
        let answer: Locked<Bool>
        let delay: Duration

        init(answer: Bool, delay: Duration) {
            self.answer = Locked(answer)
            self.delay = delay
        }

        func run() async -> Bool {
            checks.withLock { $0 += 1 }
            try? await Task.sleep(for: delay)
            return answer.withLock { $0 }
        }
    }

    @Test(
        "Fifty requests that ask while a check runs share it, whether the store is ready or down",
        arguments: [true, false])
    func concurrentAsksShareOneCheck(ready: Bool) async {
        let counting = CountingCheck(answer: ready, delay: .milliseconds(200))
        let probe = ReadinessProbe(freshness: .seconds(60)) { await counting.run() }
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 { group.addTask { await probe.isReady() } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(answers == Array(repeating: ready, count: 50))
        // All fifty ask within the check's 200 ms on any machine that runs the tests; a second
        // check would mean one came only after the first ended (when it was "not ready").
        let shared = counting.checks.withLock { $0 }
        #expect((1...2).contains(shared), "checks: \(shared)")
        // A ready is reused within its freshness; a not ready is checked again.
        #expect(await probe.isReady() == ready)
        #expect(counting.checks.withLock { $0 } == (ready ? shared : shared + 1))
    }

    @Test("A ready lasts its freshness from the start of the check that gave it")
    func freshnessCountsFromTheCheckStart() async throws {
        let counting = CountingCheck(answer: true, delay: .milliseconds(300))
        let probe = ReadinessProbe(freshness: .milliseconds(250)) { await counting.run() }
        #expect(await probe.isReady())
        // The check took 300 ms, more than the freshness: its ready is already too old to reuse.
        #expect(await probe.isReady())
        #expect(counting.checks.withLock { $0 } == 2)
    }

    @Test("Not ready is never reused, and a ready older than its freshness is checked again")
    func notReadyIsCheckedAgain() async {
        let counting = CountingCheck(answer: false, delay: .zero)
        let probe = ReadinessProbe(freshness: .seconds(60)) { await counting.run() }
        #expect(await probe.isReady() == false)
        #expect(await probe.isReady() == false)
        #expect(counting.checks.withLock { $0 } == 2)
        counting.answer.withLock { $0 = true }
        #expect(await probe.isReady())
        #expect(counting.checks.withLock { $0 } == 3)
        counting.answer.withLock { $0 = false }
        #expect(await probe.isReady(), "a ready younger than its freshness is answered again")
        #expect(counting.checks.withLock { $0 } == 3)

        let stale = ReadinessProbe(freshness: .zero) { await counting.run() }
        counting.answer.withLock { $0 = true }
        #expect(await stale.isReady())
        counting.answer.withLock { $0 = false }
        #expect(await stale.isReady() == false)
        #expect(counting.checks.withLock { $0 } == 5)
    }

    @Test("Forty parallel /readyz requests check the real store once or twice, not forty times")
    func floodOfReadyzChecksTheStoreOnce() async throws {
        let harness = try ServiceHarness()
        let store = SlowCountingStore(base: harness.store, delay: .milliseconds(300))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = DeliveryOTPService(state: harness.service.state, store: store, logger: logger)
        let app = Application(router: service.router())
        let statuses = try await app.test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<40 { group.addTask { try await client.execute(uri: "/readyz", method: .get).status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
        }
        await harness.store.close()
        #expect(statuses == Array(repeating: .ok, count: 40))
        // All forty arrive within the first check's 300 ms on any machine that runs the tests; a
        // second check would mean one came more than a second after the first began.
        #expect((1...2).contains(store.checks.withLock { $0 }), "checks of the store: \(store.checks.withLock { $0 })")
    }
}

/// The SQLite store, with `isWritable` counted and slowed, as a database's check is over a network.
final class SlowCountingStore: ServiceStore {
    let base: SQLiteServiceStore
    let delay: Duration
    let checks = Locked(0)

    init(base: SQLiteServiceStore, delay: Duration) {
        self.base = base
        self.delay = delay
    }

    func begin(_ attempt: OnlineAttempt) async throws(AttemptStoreError) -> AttemptAdmission { try await base.begin(attempt) }
    func finish(_ ticket: AttemptTicket, accepted: Bool, at time: Timestamp, waitForDurability: Bool) async throws(AttemptStoreError) {
        try await base.finish(ticket, accepted: accepted, at: time, waitForDurability: waitForDurability)
    }
    func upload(_ records: [AttemptRecord], from uploader: DeviceID, at time: Timestamp) async throws(AttemptStoreError) -> Int {
        try await base.upload(records, from: uploader, at: time)
    }
    func page(from start: AttemptLogStart, scope: Scope?, limit: Int) async throws(AttemptStoreError) -> AttemptLogPage {
        try await base.page(from: start, scope: scope, limit: limit)
    }
    func isWritable() async -> Bool {
        checks.withLock { $0 += 1 }
        try? await Task.sleep(for: delay)
        return await base.isWritable()
    }
    func close() async { await base.close() }
}
