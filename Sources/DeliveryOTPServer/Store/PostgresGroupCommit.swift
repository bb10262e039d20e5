import DeliveryOTP

/// Group commit for the PostgreSQL store: the attempts that arrive while a batch is in the database
/// go together in the next one, with the rejected verdicts queued meanwhile, as one call that
/// commits once.
///
/// One call per verify and a flush each capped the store at a few hundred verifies a second per
/// core; a batch costs one round trip, one plan and one flush whatever its size, and its size follows
/// the load (one attempt when idle). Up to `senders` batches are awaited at once (one, unless the
/// caller asks for more), each taking the oldest waiting work, and a ``flush()`` that returns has
/// seen every verdict queued before it committed or dropped. (A batch whose call outlived the
/// deadline is no longer awaited, but may still be finishing in the database.) Each caller is
/// resumed only by the answer to its batch, which the database sends after the commit is flushed:
/// never before its attempt is durable.
///
/// Bounded waits: a batch has the store's attempt deadline; an attempt still queued after that
/// deadline (the batch ahead of it hung on an unreachable database) is answered with an error and
/// never sent, so it counts nothing. A caller therefore waits at most about two deadlines.
package final class PostgresGroupCommit: Sendable {
    /// The database's answer to one attempt: `kind` as `admit_attempts` gives it, 0 for "none".
    package struct Answer: Sendable, Equatable {
        package var kind: String
        package var ticket: Int64
        package var number: Int64
        package var at: Int64

        package init(kind: String, ticket: Int64, number: Int64, at: Int64) {
            self.kind = kind
            self.ticket = ticket
            self.number = number
            self.at = at
        }
    }

    /// What one call sends: the attempts to admit, and the verdicts (tickets) to store as rejected.
    package struct Batch: Sendable {
        package var attempts: [OnlineAttempt]
        package var rejected: [Int64]
    }

    /// An attempt waiting for its batch.
    private struct Waiting: Sendable {
        var attempt: OnlineAttempt
        var since: ContinuousClock.Instant
        var continuation: CheckedContinuation<Result<Answer, AttemptStoreError>, Never>
    }

    /// A flush waiting for the first `verdicts` verdicts ever queued to be taken by a batch.
    private struct Flush: Sendable {
        var verdicts: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    /// A flush whose verdicts batch `after` (or an earlier one) took: it returns once no batch up
    /// to that one is in flight.
    private struct Settling: Sendable {
        var after: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State: ~Copyable {
        var attempts: [Waiting] = []
        var rejected: [Int64] = []
        /// How many verdicts were ever queued, and taken by a batch.
        var verdictsQueued = 0
        var verdictsTaken = 0
        /// Flushes whose verdicts are not all taken yet, in the order they came.
        var flushes: [Flush] = []
        var settling: [Settling] = []
        /// The numbers of the batches in flight.
        var inFlight: Set<Int> = []
        var nextBatch = 0
        /// How many senders run (at most `maximumSenders`).
        var running = 0
        var closed = false
    }

    /// The most attempts, and verdicts, one call carries.
    package static let largestBatch = 256
    /// How many batches a replica awaits at once, unless its caller says otherwise.
    ///
    /// One: on the machine of BENCHMARKS.md a batch costs the database CPU rather than a wait for
    /// the disk (a flush takes about 135 µs), so a second batch in flight gave one replica no
    /// measurable throughput, while it halved the size of the batches and doubled the
    /// transactions. With two replicas on one database, one batch each gave a lower p99 than
    /// two each in all nine alternating rounds, at a higher rate in eight, while both replicas'
    /// clients sent the same shipments; with distinct shipments, in three of four pairs. Three
    /// each was worse again. Over a network each batch also waits for the round trip; the
    /// batches grow to absorb it (one carries up to ``largestBatch``), so it adds latency rather
    /// than capping the rate.
    package static let defaultSenders = 1

    private let maximumSenders: Int

    private let state = Locked(State())
    private let send: @Sendable (Batch) async throws(AttemptStoreError) -> [Answer]
    private let deadline: Duration
    private let store: String
    private let onBatch: @Sendable (Int) -> Void
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameters:
    ///   - store: how errors name the store ("the PostgreSQL store at …").
    ///   - deadline: how long an attempt may wait in the queue before it is answered with an error.
    ///   - onBatch: told the number of attempts of every batch that committed (for metrics).
    ///   - senders: how many batches may be awaited at once (``defaultSenders``). Attempts
    ///     for one shipment are still decided one at a time (each batch locks the shipment's row),
    ///     and all rows in one order, so batches in flight together wait for each other rather
    ///     than deadlock; a flush waits for every batch in flight that took its verdicts.
    ///   - now: the clock that times the queue's waits (a test's hand-moved clock, so that how the
    ///     machine schedules tasks cannot expire an attempt the test means to be sent).
    ///   - send: runs one batch in the database; returns one answer per attempt, in order.
    package init(
        store: String, deadline: Duration, onBatch: @escaping @Sendable (Int) -> Void, senders: Int = defaultSenders,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        send: @escaping @Sendable (Batch) async throws(AttemptStoreError) -> [Answer]
    ) {
        precondition(senders >= 1, "a group commit needs a sender")
        self.store = store
        self.deadline = deadline
        self.maximumSenders = senders
        self.onBatch = onBatch
        self.now = now
        self.send = send
    }

    /// Admits `attempt` in the next batch; returns once that batch is committed.
    package func admit(_ attempt: OnlineAttempt) async throws(AttemptStoreError) -> Answer {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Answer, AttemptStoreError>, Never>) in
            let waiting = Waiting(attempt: attempt, since: now(), continuation: continuation)
            if !enqueue({ $0.attempts.append(waiting) }) {
                continuation.resume(returning: .failure(AttemptStoreError("\(store) is closed; nothing was counted", kind: .io)))
            }
        }
        return try result.get()
    }

    /// Queues the rejected verdict of a counted attempt for the next batch, and returns at once.
    package func reject(_ ticket: AttemptTicket) {
        _ = enqueue { state in
            state.rejected.append(ticket.id)
            state.verdictsQueued += 1
        }
    }

    /// Returns once every verdict queued before the call has been sent (committed, or lost with its batch).
    package func flush() async {
        await flush(thenClose: false)
    }

    /// Refuses new work from now on, and returns once the verdicts queued before it are sent.
    /// (One step: after a separate flush, a verdict queued while that flush waited would be sent
    /// unwaited for, since a flush waits only for the verdicts queued before it.)
    /// A verdict queued after it is dropped; its attempt stays counted, as interrupted.
    package func close() async {
        await flush(thenClose: true)
    }

    private func flush(thenClose: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queued = enqueue { state in
                state.flushes.append(Flush(verdicts: state.verdictsQueued, continuation: continuation))
                if thenClose { state.closed = true }
            }
            if !queued { continuation.resume() }
        }
    }

    /// Adds work (unless closed) and starts a sender if fewer than `maximumSenders` run; false when closed.
    private func enqueue(_ add: (inout State) -> Void) -> Bool {
        let (queued, start) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            add(&state)
            guard state.running < maximumSenders else { return (true, false) }
            state.running += 1
            return (true, true)
        }
        if start { Task { await self.sendAll() } }
        return queued
    }

    /// Sends batches until the queue is empty.
    private func sendAll() async {
        while let (batch, attempts, rejected) = take() {
            let now = self.now()
            var current: [Waiting] = []
            for waiting in attempts {
                if now - waiting.since > deadline {
                    waiting.continuation.resume(
                        returning: .failure(
                            AttemptStoreError(
                                "cannot count the attempt in \(store): no answer within \(deadline); nothing was counted", kind: .busy)))
                } else {
                    current.append(waiting)
                }
            }
            if !current.isEmpty || !rejected.isEmpty {
                let result: Result<[Answer], AttemptStoreError>
                do throws(AttemptStoreError) {
                    let answers = try await send(Batch(attempts: current.map(\.attempt), rejected: rejected))
                    guard answers.count == current.count else {
                        throw AttemptStoreError(
                            "\(store) answered \(answers.count) of a batch of \(current.count) attempts", kind: .io)
                    }
                    result = .success(answers)
                } catch {
                    result = .failure(error)
                }
                switch result {
                case .success(let answers):
                    if !current.isEmpty { onBatch(current.count) }
                    for (waiting, answer) in zip(current, answers) { waiting.continuation.resume(returning: .success(answer)) }
                case .failure(let error):
                    // The rejected verdicts are dropped: their attempts stay counted, as interrupted.
                    for waiting in current { waiting.continuation.resume(returning: .failure(error)) }
                }
            }
            for flush in finished(batch) { flush.resume() }
        }
    }

    /// The next batch's number and work; nil (and the sender stops) when there is none.
    private func take() -> (Int, [Waiting], [Int64])? {
        state.withLock { state in
            guard !state.attempts.isEmpty || !state.rejected.isEmpty || !state.flushes.isEmpty else {
                state.running -= 1
                return nil
            }
            let batch = state.nextBatch
            state.nextBatch += 1
            state.inFlight.insert(batch)
            let attempts = Self.takeFirst(&state.attempts)
            let rejected = Self.takeFirst(&state.rejected)
            state.verdictsTaken += rejected.count
            // A flush waits for the verdicts queued before it (not those queued since, which under
            // load never run out): once this batch or an earlier one has taken them all, it waits
            // only for those batches to end.
            let taken = state.flushes.prefix { $0.verdicts <= state.verdictsTaken }
            state.settling += taken.map { Settling(after: batch, continuation: $0.continuation) }
            state.flushes.removeFirst(taken.count)
            return (batch, attempts, rejected)
        }
    }

    /// The first ``largestBatch`` elements of `queue`, removed: all of them without copying when
    /// they fit, the usual case.
    private static func takeFirst<Element>(_ queue: inout [Element]) -> [Element] {
        guard queue.count > largestBatch else {
            defer { queue = [] }
            return queue
        }
        defer { queue.removeFirst(largestBatch) }
        return Array(queue.prefix(largestBatch))
    }

    /// Marks `batch` done; returns the flushes that no batch in flight holds back any more.
    private func finished(_ batch: Int) -> [CheckedContinuation<Void, Never>] {
        state.withLock { state in
            state.inFlight.remove(batch)
            let oldest = state.inFlight.min() ?? Int.max
            let done = state.settling.filter { $0.after < oldest }.map(\.continuation)
            state.settling.removeAll { $0.after < oldest }
            return done
        }
    }
}
