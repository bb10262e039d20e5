// Verification with the day key marked secret (undefined) for valgrind's
// memcheck, in the style of BoringSSL's constant-time validation: any branch
// or memory index that depends on the key, the tag or the expected code is
// reported, and `valgrind --error-exitcode=1` fails the run.
//
//   valgrind --error-exitcode=1 constant-time-check            must pass
//   valgrind --error-exitcode=1 constant-time-check --leaky    must fail (shows the check can see a leak)
//
// Run by scripts/check-constant-time.
import CMemcheck
@_spi(Tools) import DeliveryOTP

#if canImport(Glibc)
    import Glibc
#endif

let leaky = CommandLine.arguments.contains("--leaky")
guard dotp_running_on_valgrind() == 1 else {
    print("constant-time-check: run me under valgrind --error-exitcode=1 (scripts/check-constant-time)")
    exit(2)
}

let master = SecretKey(copying: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
let dayKey = DayKey(masterSecret: master, scope: try! Scope("DEPOT-12"), date: try! DeliveryDate("2024-01-17"))
// From here on the day key is secret: everything computed from it is tainted.
dayKey.secret.withUnsafeBytes { dotp_mark_secret($0.baseAddress, $0.count) }
let generator = CodeGenerator(dayKey: dayKey)

// IDs of 1, 15, 18 and 45 characters (one-block path) and 46 and 64 (OpenSSL's two-block path).
let ids = [
    "X", "TBA123456789000", "1Z999AA10123456784", String(repeating: "a", count: 45),
    String(repeating: "b", count: 46), String(repeating: "c", count: 64),
].map { try! ShipmentID($0) }

var verdicts: [String] = []
for id in ids {
    // The code the customer shows is public: the harness declassifies its copy.
    var right = generator.code(for: id).value
    dotp_mark_public(&right, MemoryLayout<UInt32>.size)
    let wrongFirst = (right + 500_000) % 1_000_000
    let wrongLast = right - right % 10 + (right % 10 + 5) % 10
    for (candidate, expected) in [(right, UInt32.max), (wrongFirst, 0), (wrongLast, 0)] {
        var mask = generator.matchMask(DeliveryCode(value: candidate)!, for: id)
        // The answer is made public only here, at the end.
        dotp_mark_public(&mask, MemoryLayout<UInt32>.size)
        if mask != expected { verdicts.append("wrong answer for \(id) \(candidate)") }
    }
}

if leaky {
    // A deliberately leaky verifier: RFC 4226's direct T[o] read (a secret
    // memory index) and an early-exit comparison (a secret branch).
    var tag = [UInt8](repeating: 0, count: 32)
    tag.withUnsafeMutableBytes { generator.tag(for: ids[1], into: $0.baseAddress!) }
    let offset = Int(tag[31] & 0x0F)
    var window = UInt32(tag[offset] & 0x7F) << 24 | UInt32(tag[offset + 1]) << 16
    window |= UInt32(tag[offset + 2]) << 8 | UInt32(tag[offset + 3])
    var candidate = [UInt8](repeating: 0, count: 32)
    candidate.withUnsafeMutableBytes { generator.tag(for: ids[1], into: $0.baseAddress!) }
    dotp_mark_public(&candidate, candidate.count)
    var equal = true
    for index in 0..<32 where tag[index] != candidate[index] {
        equal = false
        break
    }
    var answer = (window % 1_000_000, equal)
    dotp_mark_public(&answer, MemoryLayout.size(ofValue: answer))
    if !answer.1 { verdicts.append("leaky comparison disagrees") }
}

let errors = dotp_memcheck_error_count()
print(
    "constant-time-check: \(leaky ? "leaky verifier" : "CodeGenerator.matchMask"): \(ids.count * 3) verifications, \(verdicts.count) wrong answers, \(errors) memcheck errors"
)
exit(verdicts.isEmpty ? 0 : 3)
