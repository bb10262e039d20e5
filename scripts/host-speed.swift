// Times two fixed units of work, for scripts/load-test to print beside its figures: a pointer
// chase through 64 MB, whose steps nearly all miss the caches (the memory's latency), and a
// chain of dependent multiplications (the core alone). On a shared host the first can move with
// what other tenants do to the caches and the memory, while the second hardly moves. In
// BENCHMARKS.md ("The host under the slow hours") a throwaway probe's colder chase correlated
// with the load test's rates, and this one did not flag the slowest run: a reading, not a verdict.
//
// Prints "CHASE_NS ARITHMETIC_NS": the median nanoseconds per chase step, and per 1,000
// multiplications, over 101 samples each. A diagnostic, not a benchmark of this project.
//
//   swiftc -O scripts/host-speed.swift -o host-speed && ./host-speed
import Glibc

let entries = 16 << 20  // 64 MB of UInt32: twice the last-level cache of the benchmark machine (32 MB)
let samples = 101
let stepsPerSample = 20_000
let multiplicationsPerSample = 100_000

func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Random words from the system's generator (/dev/urandom), in one read.
func systemRandomWords(_ count: Int) -> [UInt32] {
    var words = [UInt32](repeating: 0, count: count)
    guard let source = fopen("/dev/urandom", "rb") else {
        fputs("host-speed: cannot open /dev/urandom\n", stderr)
        exit(1)
    }
    defer { fclose(source) }
    let read = words.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, source) }
    guard read == count * MemoryLayout<UInt32>.size else {
        fputs("host-speed: short read from /dev/urandom\n", stderr)
        exit(1)
    }
    return words
}

// Sattolo's shuffle: a single cycle through every entry, so the chase never settles into a
// short loop that the caches could hold. (The modulo's bias is immaterial here.)
var next = (0..<entries).map { UInt32($0) }
let random = systemRandomWords(entries)
for index in stride(from: entries - 1, to: 0, by: -1) {
    next.swapAt(index, Int(random[index] % UInt32(index)))
}

var position = 0
var chase: [Double] = []
next.withUnsafeBufferPointer { table in
    for _ in 0..<(entries / 8) { position = Int(table[position]) }  // warm the TLB and the caches first
    for _ in 0..<samples {
        let start = now()
        for _ in 0..<stepsPerSample { position = Int(table[position]) }
        chase.append(Double(now() - start) / Double(stepsPerSample))
    }
}

var value: UInt64 = 0x9E37_79B9_7F4A_7C15
var arithmetic: [Double] = []
for _ in 0..<samples {
    let start = now()
    for step in 0..<multiplicationsPerSample { value = value &* (value | 1) &+ UInt64(step) }
    arithmetic.append(Double(now() - start) * 1000 / Double(multiplicationsPerSample))
}

// Printing what the loops computed keeps the optimizer from removing them.
if position == -1 || value == 0 { print("") }
print(Int(median(chase).rounded()), Int(median(arithmetic).rounded()))
