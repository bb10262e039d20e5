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
        private let batches = Locked<[PostgresGroupCommit.Batch]>([])
        func add(_ batch: PostgresGroupCommit.Batch) { batches.withLock { $0.append(batch) } }
        var all: [PostgresGroupCommit.Batch] { batches.withLock { $0 } }
        var verdicts: [Int64] { all.flatMap(\.rejected) }
    }

    static func attempt(_ number: Int) -> OnlineAttempt {
        ServiceStoreContractTests.attempt(String(format: "QUEUE%010d", number))
    }

    /// A clock the test moves by hand: how late the machine runs a task cannot expire an attempt.
    final class HandClock: Sendable {
        private let state = Locked((instant: ContinuousClock.now, reads: 0))
        /// The time, counted as a read: the queue reads it once per attempt queued and once per batch taken.
        func now() -> ContinuousClock.Instant {
            state.withLock {
                $0.reads += 1
                return $0.instant
            }
        }
        var reads: Int { state.withLock { $0.reads } }
        func advance(by duration: Duration) { state.withLock { $0.instant += duration } }
    }

    /// A queue whose clock stands still, for the tests not about expiry: a machine that stalls
    /// this test for a minute (a sanitizer's run of every suite) cannot expire its attempts.
    static func queue(_ send: @escaping Database) -> PostgresGroupCommit {
        let clock = HandClock()
        return PostgresGroupCommit(store: "the test store", deadline: .seconds(60), onBatch: { _ in }, now: clock.now, send: send)
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
        let queue = Self.queue(Self.database(sent, delay: .milliseconds(10)))
        let answers = try await withThrowingTaskGroup(of: (Int, PostgresGroupCommit.Answer).self) { group in
            for number in 1...1000 { group.addTask { (number, try await queue.admit(Self.attempt(number))) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 1000)
        #expect(answers.allSatisfy { Int64($0.key) == $0.value.ticket })
        #expect(sent.all.map(\.attempts.count).reduce(0, +) == 1000)
        #expect(sent.all.allSatisfy { $0.attempts.count <= PostgresGroupCommit.largestBatch })
        #expect(sent.all.contains { $0.attempts.count > 1 }, "attempts that arrived while a batch was out went one by one")
        await queue.close()
    }

    @Test("answers an attempt still queued at the deadline with an error, and never sends it", .timeLimit(.minutes(5)))
    func expiresInQueue() async throws {
        let sent = Sent()
        let clock = HandClock()
        let open = Atomic(false)
        // Opened on every way out, so that no batch is held forever should the test end early.
        // (The callers are unstructured tasks, which the end of the scope does not wait for.)
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
            store: "the test store", deadline: .milliseconds(500), onBatch: { _ in }, now: clock.now, send: held)
        // One batch each, so that both senders are busy.
        let first = Task { try await queue.admit(Self.attempt(1)) }
        while sent.all.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
        let second = Task { try await queue.admit(Self.attempt(2)) }
        while sent.all.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let third = Task { try await queue.admit(Self.attempt(3)) }
        // Queued once the clock has been read a fifth time: one read as each attempt is queued,
        // and one as each of the two batches is taken.
        while clock.reads < 5 { try await Task.sleep(for: .milliseconds(10)) }
        // Past the third attempt's deadline, a sender comes free.
        clock.advance(by: .seconds(1))
        open.store(true, ordering: .relaxed)
        await #expect(throws: AttemptStoreError.self) { _ = try await third.value }
        _ = try await (first.value, second.value)
        #expect(sent.all.count == 2)
        #expect(!sent.all.flatMap(\.attempts).contains(Self.attempt(3)))
        await queue.close()
    }

    @Test("answers every caller of a batch the database refused with its error")
    func failedBatch() async throws {
        let refuse: Database = {
            _ throws(AttemptStoreError) in throw AttemptStoreError("the database refused", kind: .io)
        }
        let queue = Self.queue(refuse)
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

    @Test("returns from a flush once the verdicts queued before it are committed, though more keep coming", .timeLimit(.minutes(5)))
    func flushUnderLoad() async throws {
        let committed = Sent()
        let batches = Atomic(0)
        let nextTicket = Atomic<Int64>(1001)
        let later = Locked<PostgresGroupCommit?>(nil)
        // While it lasts (100 batches), every batch queues more verdicts than a batch takes, so the
        // queue never runs dry: counted in batches rather than timed, the load does not depend on
        // how fast this machine runs the test's tasks.
        let busy = 100
        let extra = PostgresGroupCommit.largestBatch + 44
        let queue = Self.queue { batch throws(AttemptStoreError) in
            if batches.add(1, ordering: .relaxed).newValue <= busy, let queue = later.withLock({ $0 }) {
                for _ in 0..<extra { queue.reject(AttemptTicket(id: nextTicket.add(1, ordering: .relaxed).oldValue)) }
            }
            try? await Task.sleep(for: .milliseconds(10))
            committed.add(batch)
            return []
        }
        later.withLock { $0 = queue }
        // The stand-in holds the queue that holds it: the cycle is broken on the way out, or
        // LeakSanitizer reports it.
        defer { later.withLock { $0 = nil } }
        for ticket in 1...1000 { queue.reject(AttemptTicket(id: Int64(ticket))) }
        await queue.flush()
        let batchesWhenFlushed = batches.load(ordering: .relaxed), verdictsWhenFlushed = Set(committed.verdicts)
        let uncommitted = (1...1000).count { !verdictsWhenFlushed.contains(Int64($0)) }
        #expect(uncommitted == 0, "the flush returned before the verdicts queued before it were committed")
        #expect(batchesWhenFlushed < busy, "the flush waited for verdicts queued after it")
        await queue.close()
    }

    @Test("sends nothing after close returns, even a verdict queued while it closes")
    func closeIsOneStep() async throws {
        let committed = Sent()
        let later = Locked<PostgresGroupCommit?>(nil)
        let closing = Atomic(false)
        // The batch that carries verdict 1 queues verdict 2 while it runs, once the test has called close,
        // as a verify finishing during shutdown would.
        let queue = Self.queue { batch throws(AttemptStoreError) in
            if batch.rejected.contains(1), let queue = later.withLock({ $0 }) {
                while !closing.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(5)) }
                try? await Task.sleep(for: .milliseconds(50))
                queue.reject(AttemptTicket(id: 2))
            }
            // A batch that carries verdict 2 takes longer: it would still be out when close returned,
            // did close not wait for it.
            try? await Task.sleep(for: .milliseconds(batch.rejected.contains(2) ? 300 : 100))
            committed.add(batch)
            return []
        }
        later.withLock { $0 = queue }
        // The stand-in holds the queue that holds it: the cycle is broken on the way out.
        defer { later.withLock { $0 = nil } }
        queue.reject(AttemptTicket(id: 1))
        closing.store(true, ordering: .relaxed)
        await queue.close()
        let whenClosed = committed.verdicts
        try await Task.sleep(for: .milliseconds(800))
        #expect(whenClosed.contains(1))
        // Verdict 2 is either refused (queued after close's locked step) or waited for by close.
        #expect(committed.verdicts == whenClosed, "a verdict was sent after close returned")
    }

    @Test("sends the verdicts still queued when it closes, and refuses attempts after")
    func closeSendsVerdicts() async throws {
        let sent = Sent()
        let queue = Self.queue(Self.database(sent))
        for ticket in 1...600 { queue.reject(AttemptTicket(id: Int64(ticket))) }
        await queue.close()
        #expect(sent.verdicts.sorted() == (1...600).map { Int64($0) })
        await #expect(throws: AttemptStoreError.self) { _ = try await queue.admit(Self.attempt(1)) }
    }
}
