import Foundation
import Testing

@testable import DeliveryOTP

#if canImport(Glibc)
    import Glibc
#endif

/// The user an audit line names, while other threads look users up: `serve` appends to the audit
/// log from concurrent requests.
@Suite("The audit log's user name")
struct AuditLogUserTests {
    @Test("An audit line names the effective user even while another thread looks up another user")
    func userNameUnderConcurrentLookups() throws {
        let own = geteuid()
        let other: uid_t = own == 0 ? 1 : 0
        let expected = try #require(getpwuid(own).flatMap { $0.pointee.pw_name }.map { String(cString: $0) })
        let otherName = try #require(getpwuid(other).flatMap { $0.pointee.pw_name }.map { String(cString: $0) })
        #expect(expected != otherName)
        let wrong = Locked(0)
        let started = Locked(false)
        let done = Locked(false)
        let overlapping = Locked(0)
        let finished = DispatchGroup()
        // Two threads of their own (not a pool's, which may run one task after the other).
        finished.enter()
        Thread {
            // The C library's own record for `getpwuid`, overwritten as fast as it can be.
            _ = getpwuid(other)
            started.withLock { $0 = true }
            var lookups = 0
            while !done.withLock({ $0 }) {
                _ = getpwuid(other)
                lookups += 1
            }
            overlapping.withLock { $0 = lookups }
            finished.leave()
        }.start()
        finished.enter()
        Thread {
            // Only once the other thread is looking users up, so that the two overlap.
            while !started.withLock({ $0 }) { usleep(100) }
            var mismatches = 0
            for _ in 0..<20_000 where AuditLog.userName() != expected { mismatches += 1 }
            wrong.withLock { $0 = mismatches }
            done.withLock { $0 = true }
            finished.leave()
        }.start()
        finished.wait()
        #expect(overlapping.withLock { $0 } > 0, "the other thread looked nothing up while the audit log's did")
        #expect(wrong.withLock { $0 } == 0, "lines that named another user than \(expected)")
    }
}
