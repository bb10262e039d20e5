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
        let done = Locked(false)
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            if worker == 0 {
                var mismatches = 0
                for _ in 0..<20_000 where AuditLog.userName() != expected { mismatches += 1 }
                wrong.withLock { $0 = mismatches }
                done.withLock { $0 = true }
            } else {
                // The C library's own record for `getpwuid`, overwritten as fast as it can be.
                var lookups = 0
                while !done.withLock({ $0 }) || lookups < 1_000 {
                    _ = getpwuid(other)
                    lookups += 1
                }
            }
        }
        #expect(wrong.withLock { $0 } == 0, "lines that named another user than \(expected)")
    }
}
