import Dispatch
import Foundation

/// The manifest's three stages and the buffers that circulate between them.
///
/// The calling thread reads chunks into free jobs; worker threads issue them in
/// any order; a writer thread writes them in input order and hands each job
/// back to be filled again. A fixed number of jobs bounds the memory, and a
/// write that waits on the disk does not stop the reading or the workers until
/// every job is in use.
final class ChunkPipeline: @unchecked Sendable {
    /// One chunk's input, output and result, reused for chunk after chunk.
    /// Only the stage holding a job touches it; the queues hand it on under the lock.
    final class Job: @unchecked Sendable {
        var index = 0
        var input: ByteBuffer
        var output: ByteBuffer
        var result = ManifestIssuer.ChunkResult()

        init(inputCapacity: Int, outputCapacity: Int) {
            input = ByteBuffer(capacity: inputCapacity)
            output = ByteBuffer(capacity: outputCapacity)
        }

        deinit {
            input.deallocate()
            output.deallocate()
        }
    }

    // Every field is guarded by `condition`.
    private let condition = NSCondition()
    private var free: [Job]
    private var waiting: [Job] = []
    private var waitingHead = 0
    private var done: [Int: Job] = [:]
    private var submittedCount: Int?
    private var stopped = false
    private var failure: ManifestError?

    init(jobs: Int, inputCapacity: Int, outputCapacity: Int) {
        free = (0..<jobs).map { _ in Job(inputCapacity: inputCapacity, outputCapacity: outputCapacity) }
    }

    // MARK: The reading stage

    /// A job to fill, waiting while all are in use; nil once the pipeline has stopped.
    func takeFree() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty && !stopped { condition.wait() }
        return stopped ? nil : free.removeLast()
    }

    func submit(_ job: Job) {
        condition.lock()
        waiting.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// No more jobs will come: `count` were submitted in all.
    func finishInput(count: Int) {
        condition.lock()
        submittedCount = count
        condition.broadcast()
        condition.unlock()
    }

    /// Stops every stage; the first failure is the one reported.
    func stop(_ error: ManifestError?) {
        condition.lock()
        if failure == nil { failure = error }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    var firstFailure: ManifestError? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    // MARK: The workers

    private func takeWork() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while waitingHead == waiting.count && !stopped { condition.wait() }
        if stopped { return nil }
        let job = waiting[waitingHead]
        waitingHead += 1
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
        return job
    }

    /// A thread that issues jobs until the pipeline stops; `wait()` on the result joins it.
    func startWorker(_ work: ChunkWork) -> DispatchSemaphore {
        start { [self] in
            var state = work.makeState()
            defer { state.release() }
            while let job = takeWork() {
                work.process(job, state: &state)
                condition.lock()
                done[job.index] = job
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    // MARK: The writing stage

    /// The job with `index` once it is issued; nil when every submitted job has
    /// been taken, or the pipeline has stopped.
    private func finished(_ index: Int) -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopped { return nil }
            if let job = done.removeValue(forKey: index) { return job }
            if let submittedCount, index >= submittedCount { return nil }
            condition.wait()
        }
    }

    private func recycle(_ job: Job) {
        condition.lock()
        free.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// A thread that passes each job, in input order, to `consume`, then recycles it.
    /// An error from `consume` stops the pipeline.
    func startWriter(_ consume: @escaping @Sendable (Job) throws(ManifestError) -> Void) -> DispatchSemaphore {
        start { [self] in
            var next = 0
            while let job = finished(next) {
                do throws(ManifestError) {
                    try consume(job)
                } catch {
                    stop(error)
                    return
                }
                next += 1
                recycle(job)
            }
        }
    }

    private func start(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            OpenSSLThreadState.release()
            finished.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        return finished
    }
}
