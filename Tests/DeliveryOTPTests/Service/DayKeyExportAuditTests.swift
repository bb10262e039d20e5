import DeliveryOTP
import Foundation
import HTTPTypes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A day-key export appends to the keyring's audit log and fsyncs it before it answers: that
/// waits on the disk, which must hold up neither the other requests nor more exports than a bound.
@Suite("Day-key exports and the audit log's disk")
struct DayKeyExportAuditTests {
    /// Exports that wait on the audit log at once (DeviceRoutes' bound).
    static let waitingAtMost = 64

    @Test(
        "Exports that wait on their audit log hold no verify up, those past 64 are refused at once, and none that is not audited is served"
    )
    func exportsWaitOffTheSharedPool() async throws {
        let harness = try ServiceHarness()
        // The audit log as a FIFO without a reader: each export's append waits in open() until a
        // reader comes, as on a disk that does not answer.
        let auditPath = harness.keyringPath + ".audit.jsonl"
        try #require(mkfifo(auditPath, 0o600) == 0)
        // Enough exports to take every thread of Swift's shared pool, had they waited on it.
        let exports = max(Self.waitingAtMost, 2 * ProcessInfo.processInfo.activeProcessorCount) + 3
        // While the exports wait, they hold every thread of NIO's pool for blocking work, which
        // the whole test process shares: an export of another suite meanwhile waits with them.
        let reader = FIFOReader(path: auditPath)
        defer { reader.stop() }

        try await harness.test { client in
            try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                for _ in 0..<exports {
                    group.addTask {
                        let answer = try await client.get("/v1/device-keys", harness, token: "van-1")
                        return (answer.status, answer.text)
                    }
                }
                // The exports past the bound are answered at once, while the others wait.
                var early: [(HTTPResponse.Status, String)] = []
                for _ in 0..<(exports - Self.waitingAtMost) { if let answer = try await group.next() { early.append(answer) } }
                #expect(early.allSatisfy { $0.0 == .serviceUnavailable && $0.1.contains("waiting on the audit log already") })
                #expect(await Self.threadsWaitingOnAFIFO(atLeast: 1) >= 1, "no export reached the audit log")

                let verify = try await client.verify(harness, shipment: "TBA123456789000", code: "000000")
                reader.start()
                #expect(verify.status == .ok)
                #expect(!reader.startedByWatchdog, "the verify was answered only once the exports' disk did")
                var late: [(HTTPResponse.Status, String)] = []
                for try await answer in group { late.append(answer) }
                // A FIFO cannot be fsynced: no export was audited, so none was served.
                #expect(late.count == Self.waitingAtMost)
                #expect(late.allSatisfy { $0.0 == .serviceUnavailable && $0.1.contains("could not be written to the audit log") })
            }
        }
    }

    /// How many of this process's threads wait in the kernel for a FIFO's other end, once at least
    /// `count` do or 30 s have passed.
    static func threadsWaitingOnAFIFO(atLeast count: Int) async -> Int {
        await threadsWaiting(in: { $0 == "wait_for_partner" }, atLeast: count, seconds: 30).count
    }
}

/// Reads and drops what is written to a FIFO, on a thread of its own, from when the test starts
/// it or, failing that, 120 s after it was made: a thread of Swift's pool could not run while
/// every one of them waits on the FIFO, and the test must end either way.
final class FIFOReader: Sendable {
    private let started = Locked(false)
    private let stopped = Locked(false)
    private let watchdog = Locked(false)

    init(path: String) {
        Thread { [started, stopped, watchdog] in
            // Long: under ThreadSanitizer, with every suite running at once on two cores, requests
            // have taken 40 s to be answered (CI run 81), and a watchdog of 20 s fired first.
            for _ in 0..<1200 where !started.withLock({ $0 }) { usleep(100_000) }
            started.withLock { isStarted in
                if !isStarted { watchdog.withLock { $0 = true } }
                isStarted = true
            }
            // Opened again until it opens: a writer left waiting would hang the test.
            var fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            while fd < 0 && errno != ENOENT {
                usleep(10_000)
                fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            }
            guard fd >= 0 else { return }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while !stopped.withLock({ $0 }) {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if count <= 0 { usleep(1_000) }
            }
        }.start()
    }

    /// Opens the FIFO now.
    func start() { started.withLock { $0 = true } }

    /// Whether the FIFO was opened by the watchdog rather than by ``start()``.
    var startedByWatchdog: Bool { watchdog.withLock { $0 } }

    /// Stops reading (and opens the FIFO first if nothing did, so that no writer is left waiting).
    func stop() {
        start()
        stopped.withLock { $0 = true }
    }
}
