import DeliveryOTP
import Foundation
import HTTPTypes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A day-key export appends to the keyring's audit log and fsyncs it before it answers: that
/// waits on the disk, which must not hold up the other requests meanwhile.
@Suite("Day-key exports and the audit log's disk")
struct DayKeyExportAuditTests {
    @Test("Exports that wait on their audit log hold no verify up, and each one that cannot be audited is refused")
    func exportsWaitOffTheSharedPool() async throws {
        let harness = try ServiceHarness()
        // The audit log as a FIFO without a reader: each export's append waits in open() until a
        // reader comes, as on a disk that does not answer.
        let auditPath = harness.keyringPath + ".audit.jsonl"
        #expect(mkfifo(auditPath, 0o600) == 0)
        // More exports than Swift's shared pool and NIO's blocking pool have threads.
        let exports = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let verified = Locked(false)
        let releasedByWatchdog = Locked(false)
        let reader = Locked<Int32>(-1)
        // A reader for the FIFO: opened by the test once the verify is answered, or else by this
        // thread of its own after 20 s (a thread of Swift's pool could not run while every one
        // of them waits), so that the test ends either way.
        Thread {
            for _ in 0..<200 {
                if verified.withLock({ $0 }) { return }
                usleep(100_000)
            }
            releasedByWatchdog.withLock { $0 = true }
            reader.withLock { if $0 < 0 { $0 = open(auditPath, O_RDONLY | O_NONBLOCK) } }
        }.start()
        defer { reader.withLock { if $0 >= 0 { close($0) } } }

        try await harness.test { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<exports {
                    group.addTask { try await client.get("/v1/device-keys", harness, token: "van-1").status }
                }
                try await Task.sleep(for: .milliseconds(300))  // the exports reach their append
                let verify = try await client.verify(harness, shipment: "TBA123456789000", code: "000000")
                verified.withLock { $0 = true }
                #expect(verify.status == .ok)
                #expect(!releasedByWatchdog.withLock { $0 }, "the verify was answered only once the exports' disk did")
                reader.withLock { if $0 < 0 { $0 = open(auditPath, O_RDONLY | O_NONBLOCK) } }
                #expect(reader.withLock { $0 } >= 0)
                var statuses: [HTTPResponse.Status] = []
                for try await status in group { statuses.append(status) }
                // A FIFO cannot be fsynced: no export was audited, so none was served.
                #expect(statuses == Array(repeating: .serviceUnavailable, count: exports))
            }
        }
    }
}
