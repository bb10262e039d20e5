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
    /// `senders` is the service's unless a test asks for more batches in flight at once.
    static func queue(
        senders: Int = PostgresGroupCommit.defaultSenders, clock: HandClock = HandClock(), _ send: @escaping Database
    ) -> PostgresGroupCommit {
        PostgresGroupCommit(
            store: "the test store", deadline: .seconds(60), onBatch: { _ in }, senders: senders, now: clock.now, send: send)
    }

    /// Batches in flight at once: the service's one, and two, for the tests that hold for any number.
    static let senderCounts = [1, 2]

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

    /// A stand-in database that holds every batch until the test opens the gate, then answers each
    /// attempt "counted".
    final class Gate: Sendable {
        private let isOpen = Atomic(false)
        func open() { isOpen.store(true, ordering: .relaxed) }

        func held(_ sent: Sent) -> Database {
            { batch throws(AttemptStoreError) in
                sent.add(batch)
                while !self.isOpen.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
                return batch.attempts.map { _ in .init(kind: "counted", ticket: 1, number: 1, at: 0) }
            }
        }
    }

    @Test(
        "answers every caller with the answer to its own attempt, in batches of at most the largest size",
        arguments: senderCounts)
    func answersInBatches(senders: Int) async throws {
        let sent = Sent()
        let queue = Self.queue(senders: senders, Self.database(sent, delay: .milliseconds(10)))
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

    @Test("keeps one batch in the database at a time, and sends all that arrived meanwhile as the next", .timeLimit(.minutes(5)))
    func oneBatchAtATime() async throws {
        let sent = Sent()
        let clock = HandClock()
        let gate = Gate()
        // Opened on every way out, so that no batch is held forever should the test end early.
        defer { gate.open() }
        let queue = Self.queue(clock: clock, gate.held(sent))
        let first = Task { try await queue.admit(Self.attempt(1)) }
        while sent.all.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
        let others = (2...5).map { number in Task { try await queue.admit(Self.attempt(number)) } }
        // The clock is read six times by then: once as each attempt is queued (just before it joins
        // the queue), and once as the first batch was taken.
        while clock.reads < 6 { try await Task.sleep(for: .milliseconds(10)) }
        // Time for the last to join the queue, and for a second sender, were there one, to take them.
        try await Task.sleep(for: .milliseconds(200))
        #expect(sent.all.count == 1, "a second batch went to the database while the first was there")
        gate.open()
        _ = try await first.value
        for other in others { _ = try await other.value }
        #expect(sent.all.map(\.attempts.count) == [1, 4])
        await queue.close()
    }

    @Test(
        "answers an attempt still queued at the deadline with an error, and never sends it", .timeLimit(.minutes(5)),
        arguments: senderCounts)
    func expiresInQueue(senders: Int) async throws {
        let sent = Sent()
        let clock = HandClock()
        let gate = Gate()
        // Opened on every way out, so that no batch is held forever should the test end early.
        // (The callers are unstructured tasks, which the end of the scope does not wait for.)
        defer { gate.open() }
        // Time stands still until the test moves it, so the first attempts are sent however late
        // their senders start (on the real clock, a sender that a loaded machine started more than
        // 500 ms late found its attempt expired, and the test waited forever for it).
        let queue = PostgresGroupCommit(
            store: "the test store", deadline: .milliseconds(500), onBatch: { _ in }, senders: senders, now: clock.now,
            send: gate.held(sent))
        // One batch each, so that every sender is busy.
        var sending: [Task<PostgresGroupCommit.Answer, any Error>] = []
        for number in 1...senders {
            sending.append(Task { try await queue.admit(Self.attempt(number)) })
            while sent.all.count < number { try await Task.sleep(for: .milliseconds(10)) }
        }
        let last = Task { try await queue.admit(Self.attempt(senders + 1)) }
        // Queued once the clock has been read once more than twice per sender: once as each
        // attempt is queued, and once as each batch is taken.
        while clock.reads < 2 * senders + 1 { try await Task.sleep(for: .milliseconds(10)) }
        // Past the last attempt's deadline, a sender comes free.
        clock.advance(by: .seconds(1))
        gate.open()
        await #expect(throws: AttemptStoreError.self) { _ = try await last.value }
        for task in sending { _ = try await task.value }
        #expect(sent.all.count == senders)
        #expect(!sent.all.flatMap(\.attempts).contains(Self.attempt(senders + 1)))
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

    @Test(
        "returns from a flush once the verdicts queued before it are committed, though more keep coming",
        .timeLimit(.minutes(5)), arguments: senderCounts)
    func flushUnderLoad(senders: Int) async throws {
        let committed = Sent()
        let batches = Atomic(0)
        let nextTicket = Atomic<Int64>(1001)
        let later = Locked<PostgresGroupCommit?>(nil)
        // While it lasts (100 batches), every batch queues more verdicts than a batch takes, so the
        // queue never runs dry: counted in batches rather than timed, the load does not depend on
        // how fast this machine runs the test's tasks.
        let busy = 100
        let extra = PostgresGroupCommit.largestBatch + 44
        let queue = Self.queue(senders: senders) { batch throws(AttemptStoreError) in
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

    @Test("sends nothing after close returns, even a verdict queued while it closes", arguments: senderCounts)
    func closeIsOneStep(senders: Int) async throws {
        let committed = Sent()
        let later = Locked<PostgresGroupCommit?>(nil)
        let closing = Atomic(false)
        // The batch that carries verdict 1 queues verdict 2 while it runs, once the test has called close,
        // as a verify finishing during shutdown would.
        let queue = Self.queue(senders: senders) { batch throws(AttemptStoreError) in
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
