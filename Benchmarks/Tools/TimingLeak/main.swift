// A timing-leak test in the style of dudect (Reparaz, Balasch, Verbauwhede,
// "Dude, is my code constant time?", 2017): two classes of input, measured
// interleaved in random order with the CPU's cycle counter, outliers cropped,
// then Welch's t-test. |t| < 4.5 means no leak was found; the same harness on
// a deliberately early-exit comparison must find one (|t| > 10).
//
//   timing-leak [--samples N]     N measurements per class after cropping (default 1,000,000)
//   timing-leak --self-test       checks the statistic on made-up samples with known answers
//
// Run by scripts/check-constant-time; build it in release mode.
import CCycleCounter
@_spi(Tools) import DeliveryOTP

#if canImport(Glibc)
    import Glibc
#endif

let samplesPerClass: Int = {
    if let index = CommandLine.arguments.firstIndex(of: "--samples"), index + 1 < CommandLine.arguments.count,
        let value = Int(CommandLine.arguments[index + 1]), value >= 1000
    {
        return value
    }
    return 1_000_000
}()
/// Measurements above this pooled percentile (interrupts, migrations) are cropped.
let cropPercentile = 0.90

let master = SecretKey(copying: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
let dayKey = DayKey(masterSecret: master, scope: try! Scope("DEPOT-12"), date: try! DeliveryDate("2024-01-17"))
let generator = CodeGenerator(dayKey: dayKey)
let shipment = try! ShipmentID("TBA123456789000")

/// Results go here so that the compiler cannot drop the measured work.
nonisolated(unsafe) var sink: UInt64 = 0

/// Welch's t for two samples.
func welch(_ a: [Double], _ b: [Double]) -> Double {
    func moments(_ x: [Double]) -> (mean: Double, variance: Double) {
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)
        return (mean, variance)
    }
    let (ma, va) = moments(a), (mb, vb) = moments(b)
    let spread = (va / Double(a.count) + vb / Double(b.count)).squareRoot()
    // Every kept measurement of both classes the same tick of the counter (a coarse timestamp
    // counter, as in some virtual machines): no difference to find if the means agree, a certain
    // one if not. The formula alone gives NaN (0 / 0), which failed the check as if it leaked.
    guard spread > 0 else { return ma == mb ? 0 : (ma - mb) * .infinity }
    return (ma - mb) / spread
}

// `timing-leak --self-test`: the statistic on samples made up to have a known answer.
if CommandLine.arguments.contains("--self-test") {
    let same = [Double](repeating: 315, count: 1000), lower = [Double](repeating: 293, count: 1000)
    let mixed = (0..<1000).map { $0 % 2 == 0 ? 315.0 : 293.0 }
    let checks: [(String, Bool)] = [
        ("identical constant classes give t = 0", welch(same, same) == 0),
        ("constant classes that differ give an infinite t", welch(same, lower).isInfinite),
        ("classes with the same spread and mean give t = 0", welch(mixed, Array(mixed.reversed())) == 0),
        ("a shifted class gives a large t", abs(welch(mixed, mixed.map { $0 + 5 })) > 10),
    ]
    for (name, passed) in checks { print("timing-leak self-test: \(passed ? "ok" : "FAILED"): \(name)") }
    exit(checks.allSatisfy(\.1) ? 0 : 1)
}

/// Measures `operation` on the inputs of randomly interleaved classes 0 and 1 and returns Welch's t after
/// cropping. Each measurement's input is chosen before the loop, so that no branch on the class runs in
/// (or just before) the timed region: only the operation's own work is timed.
func measure<Input>(_ inputs: (Input, Input), _ operation: (Input) -> Bool) -> (t: Double, counts: (Int, Int), medians: (Double, Double)) {
    // Enough raw measurements that each class keeps `samplesPerClass` after cropping.
    let total = Int(Double(2 * samplesPerClass) / cropPercentile) + 1000
    var classes = [UInt8](repeating: 0, count: total)
    var random = SystemRandomNumberGenerator()
    for index in classes.indices { classes[index] = UInt8(random.next() & 1) }
    let prepared = classes.map { $0 == 0 ? inputs.0 : inputs.1 }
    var cycles = [UInt64](repeating: 0, count: total)
    for index in 0..<min(total, 10_000) { sink &+= operation(prepared[index]) ? 1 : 0 }  // warm up
    for index in 0..<total {
        let input = prepared[index]
        let start = dotp_cycles()
        let answer = operation(input)
        let end = dotp_cycles()
        sink &+= answer ? 1 : 0
        cycles[index] = end &- start
    }
    let threshold = cycles.sorted()[Int(Double(total) * cropPercentile)]
    var first: [Double] = [], second: [Double] = []
    first.reserveCapacity(total / 2)
    second.reserveCapacity(total / 2)
    for index in 0..<total where cycles[index] <= threshold {
        if classes[index] == 0 { first.append(Double(cycles[index])) } else { second.append(Double(cycles[index])) }
    }
    let median = { (x: [Double]) in x.sorted()[x.count / 2] }
    return (welch(first, second), (first.count, second.count), (median(first), median(second)))
}

let right = generator.code(for: shipment)
let wrongFirstDigit = DeliveryCode(value: (right.value + 500_000) % 1_000_000)!
let wrongLastDigit = DeliveryCode(value: right.value - right.value % 10 + (right.value % 10 + 5) % 10)!

// The product's verification: derive the code, compare in constant time.
let firstDigit = measure((right, wrongFirstDigit)) { code in generator.verify(code, for: shipment) == .accepted }
let lastDigit = measure((right, wrongLastDigit)) { code in generator.verify(code, for: shipment) == .accepted }

// The same measurement with a deliberately leaky comparator: derive the tag,
// then compare 32-byte tags byte by byte with an early exit.
var expectedTag = [UInt8](repeating: 0, count: 32)
expectedTag.withUnsafeMutableBytes { generator.tag(for: shipment, into: $0.baseAddress!) }
var wrongTag = expectedTag
wrongTag[0] ^= 0x01
@inline(never)
func earlyExitEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>) -> Bool {
    var index = 0
    while index < 32 {
        if a[index] != b[index] { return false }
        index += 1
        // An opaque step per byte keeps the compiler from turning the loop into one wide compare.
        sink &+= 1
    }
    return true
}
var tagBuffer = [UInt8](repeating: 0, count: 32)
let leaky = expectedTag.withUnsafeBufferPointer { expected in
    wrongTag.withUnsafeBufferPointer { wrong in
        tagBuffer.withUnsafeMutableBufferPointer { buffer in
            measure((expected.baseAddress!, wrong.baseAddress!)) { other in
                generator.tag(for: shipment, into: buffer.baseAddress!)
                return earlyExitEqual(buffer.baseAddress!, other)
            }
        }
    }
}

func report(_ name: String, _ result: (t: Double, counts: (Int, Int), medians: (Double, Double))) {
    let t = (result.t * 100).rounded() / 100
    print("  \(name): t = \(t), n = \(result.counts.0) / \(result.counts.1), median cycles \(result.medians.0) / \(result.medians.1)")
}
print("timing-leak: \(samplesPerClass) samples per class requested, cropped above the \(Int(cropPercentile * 100))th percentile")
report("verify, right vs wrong first digit (constant-time)", firstDigit)
report("verify, right vs wrong last digit (constant-time)", lastDigit)
report("early-exit comparison of 32-byte tags (leaky on purpose)", leaky)

let enough = [firstDigit, lastDigit, leaky].allSatisfy { min($0.counts.0, $0.counts.1) >= samplesPerClass * 9 / 10 }
let passed = abs(firstDigit.t) < 4.5 && abs(lastDigit.t) < 4.5 && abs(leaky.t) > 10 && enough
print(
    passed
        ? "timing-leak: PASS: no leak found in verify (|t| < 4.5), and the leaky comparator is detected (|t| > 10)"
        : "timing-leak: FAIL")
print("(sink \(sink & 1))")
exit(passed ? 0 : 1)
