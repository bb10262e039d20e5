import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Synchronization
import Testing

/// The PostgreSQL store's group commit, with a stand-in for the database: how it forms batches,
/// answers its callers, and waits, whatever the database does.
@Suite("The group commit queue")
struct GroupCommitQueueTests {
    /// What the stand-in database was sent.
    final class Sent: Sendable {
        private let batches = Mutex<[PostgresGroupCommit.Batch]>([])
        func add(_ batch: PostgresGroupCommit.Batch) { batches.withLock { $0.append(batch) } }
        var all: [PostgresGroupCommit.Batch] { batches.withLock { $0 } }
        var verdicts: [Int64] { all.flatMap(\.rejected) }
    }

    static func attempt(_ number: Int) -> OnlineAttempt {
        ServiceStoreContractTests.attempt(String(format: "QUEUE%010d", number))
    }

    /// Answers each attempt "counted", its ticket its shipment's number, after `delay`.
    typealias Database = @Sendable (PostgresGroupCommit.Batch) async throws(AttemptStoreError) -> [PostgresGroupCommit.Answer]

    static func database(_ sent: Sent, delay: Duration = .zero) -> Database {
        { batch throws(AttemptStoreError) in
            sent.add(batch)
            if delay > .zero { try? await Task.sleep(for: delay) }
            return batch.attempts.map { attempt in
                .init(kind: "counted", ticket: Int64(attempt.shipment.rawValue.dropFirst(5))!, number: 1, at: 0)
            }
        }
    }

    @Test("answers every caller with the answer to its own attempt, in batches of at most the largest size")
    func answersInBatches() async throws {
        let sent = Sent()
        let queue = PostgresGroupCommit(store: "the test store", deadline: .seconds(60), onBatch: { _ in }, send: Self.database(sent))
        let answers = try await withThrowingTaskGroup(of: (Int, PostgresGroupCommit.Answer).self) { group in
            for number in 1...1000 { group.addTask { (number, try await queue.admit(Self.attempt(number))) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 1000)
        #expect(answers.allSatisfy { Int64($0.key) == $0.value.ticket })
        #expect(sent.all.map(\.attempts.count).reduce(0, +) == 1000)
        #expect(sent.all.allSatisfy { $0.attempts.count <= PostgresGroupCommit.largestBatch })
        await queue.close()
    }

    /// A clock the test moves by hand: how late the machine runs a task cannot expire an attempt.
    final class HandClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(by duration: Duration) { instant.withLock { $0 += duration } }
    }

    @Test("answers an attempt still queued at the deadline with an error, and never sends it", .timeLimit(.minutes(5)))
    func expiresInQueue() async throws {
        let sent = Sent()
        let clock = HandClock()
        let open = Atomic(false)
        // Opened on every way out, so that no batch (and no caller awaited at the end of the
        // scope) is held forever should the test end early.
        defer { open.store(true, ordering: .relaxed) }
        // The stand-in database holds every batch until the test opens it.
        let held: Database = { batch throws(AttemptStoreError) in
            sent.add(batch)
            while !open.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
            return batch.attempts.map { _ in .init(kind: "counted", ticket: 1, number: 1, at: 0) }
        }
        // Time stands still until the test moves it, so the first two attempts are sent however
        // late their senders start (on the real clock, a sender that a loaded machine started more
        // than 500 ms late found its attempt expired, and the test waited forever for it).
        let queue = PostgresGroupCommit(
            store: "the test store", deadline: .milliseconds(500), onBatch: { _ in }, now: { clock.now }, send: held)
        // One batch each, so that both senders are busy.
        async let first = queue.admit(Self.attempt(1))
        while sent.all.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
        async let second = queue.admit(Self.attempt(2))
        while sent.all.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        // Queued from the moment its task starts (admit queues before its first suspension).
        let queued = Atomic(false)
        let third = Task {
            queued.store(true, ordering: .relaxed)
            return try await queue.admit(Self.attempt(3))
        }
        while !queued.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
        // Past the third attempt's deadline, a sender comes free.
        clock.advance(by: .seconds(1))
        open.store(true, ordering: .relaxed)
        await #expect(throws: AttemptStoreError.self) { _ = try await third.value }
        _ = try await (first, second)
        #expect(sent.all.count == 2)
        #expect(!sent.all.flatMap(\.attempts).contains(Self.attempt(3)))
        await queue.close()
    }

    @Test("answers every caller of a batch the database refused with its error")
    func failedBatch() async throws {
        let refuse: Database = {
            _ throws(AttemptStoreError) in throw AttemptStoreError("the database refused", kind: .io)
        }
        let queue = PostgresGroupCommit(store: "the test store", deadline: .seconds(60), onBatch: { _ in }, send: refuse)
        let failures = await withTaskGroup(of: Bool.self) { group in
            for number in 1...100 {
                group.addTask {
                    do {
                        _ = try await queue.admit(Self.attempt(number))
                        return false
                    } catch { return (error as? AttemptStoreError)?.description == "the database refused" }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 100)
        await queue.close()
    }

    @Test("returns from a flush once the verdicts queued before it are sent, though more keep coming", .timeLimit(.minutes(5)))
    func flushUnderLoad() async throws {
        let sent = Sent()
        // Two batches of at most 256 in flight, each 100 ms: about 5,000 verdicts a second.
        let queue = PostgresGroupCommit(
            store: "the test store", deadline: .seconds(60), onBatch: { _ in }, send: Self.database(sent, delay: .milliseconds(100)))
        for ticket in 1...1000 { queue.reject(AttemptTicket(id: Int64(ticket))) }
        let stop = Atomic(false)
        let stopped = Atomic(false)
        // Verdicts keep coming for 500 rounds, up to 10,000 a second (twice what is taken, and light
        // enough for a sanitizer's run), unless the flush returns first.
        let producer = Task {
            var ticket: Int64 = 1001
            // 500 rounds (at least 5 s), counted rather than timed, so that a machine that starves
            // this test's tasks (a sanitizer's run of every suite) slows the producer as much as the queue.
            var rounds = 0
            while !stop.load(ordering: .relaxed) && rounds < 500 {
                rounds += 1
                for _ in 0..<100 {
                    queue.reject(AttemptTicket(id: ticket))
                    ticket += 1
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            stopped.store(true, ordering: .relaxed)
        }
        await queue.flush()
        let producedUntilTheEnd = stopped.load(ordering: .relaxed)
        stop.store(true, ordering: .relaxed)
        await producer.value
        #expect(!producedUntilTheEnd, "the flush waited for verdicts queued after it")
        #expect(Set(sent.verdicts).isSuperset(of: (1...1000).map { Int64($0) }))
        await queue.close()
    }

    @Test("sends the verdicts still queued when it closes, and refuses attempts after")
    func closeSendsVerdicts() async throws {
        let sent = Sent()
        let queue = PostgresGroupCommit(store: "the test store", deadline: .seconds(60), onBatch: { _ in }, send: Self.database(sent))
        for ticket in 1...600 { queue.reject(AttemptTicket(id: Int64(ticket))) }
        await queue.close()
        #expect(sent.verdicts.sorted() == (1...600).map { Int64($0) })
        await #expect(throws: AttemptStoreError.self) { _ = try await queue.admit(Self.attempt(1)) }
    }
}
