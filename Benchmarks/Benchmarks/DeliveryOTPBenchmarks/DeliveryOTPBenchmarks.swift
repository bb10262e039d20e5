// Throughput of code derivation and verification, next to the peers a team
// would otherwise use. Run from Benchmarks/ with `swift package benchmark` (see BENCHMARKS.md).
// Setup happens outside the measured closures; results go to blackHole.
import Benchmark
import CLibCryptoPeer
import Crypto
@_spi(Tools) import DeliveryOTP
import Foundation

let benchmarks: @Sendable () -> Void = {
    // DELIVERY_OTP_BENCHMARK_SMOKE=1 (CI): a few short iterations, only to prove that everything runs.
    let smoke = ProcessInfo.processInfo.environment["DELIVERY_OTP_BENCHMARK_SMOKE"] != nil
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .instructions, .mallocCountTotal],
        warmupIterations: smoke ? 0 : 3,
        maxDuration: smoke ? .milliseconds(200) : .seconds(5),
        maxIterations: smoke ? 2 : 100
    )

    let fixture = Fixture()
    let ids = fixture.ids
    let idMask = ids.count - 1
    let generator = fixture.generator

    // 1. Derive: codes per second for one day key and varying 18-character IDs.
    Benchmark("derive code (one day key)", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(generator.code(for: ids[index & idMask]))
        }
    }

    // 1b. The same, two codes per call (the path batch issuing takes).
    Benchmark("derive codes in pairs (one day key)", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in stride(from: 0, to: benchmark.scaledIterations.count, by: 2) {
            blackHole(generator.codes(for: ids[index & idMask], ids[(index + 1) & idMask]))
        }
    }

    // 1c. From ID bytes in one buffer, as a manifest parser hands them over (no String, no ARC).
    let packed = fixture.packedIDs
    Benchmark("derive code from ID bytes", configuration: .init(scalingFactor: .mega)) { benchmark in
        packed.withUnsafeBytes { bytes in
            for index in benchmark.scaledIterations {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[(index & idMask) * 18..<(index & idMask) * 18 + 18])
                blackHole(generator.code(forValidatedBytes: slice))
            }
        }
    }
    Benchmark("derive codes in pairs from ID bytes", configuration: .init(scalingFactor: .mega)) { benchmark in
        packed.withUnsafeBytes { bytes in
            for index in stride(from: 0, to: benchmark.scaledIterations.count, by: 2) {
                let a = UnsafeRawBufferPointer(rebasing: bytes[(index & idMask) * 18..<(index & idMask) * 18 + 18])
                let b = UnsafeRawBufferPointer(rebasing: bytes[((index + 1) & idMask) * 18..<((index + 1) & idMask) * 18 + 18])
                blackHole(generator.codes(forValidatedBytes: a, b))
            }
        }
    }

    // 2. Verify: derivation plus the constant-time comparison, for a right and a wrong code.
    let rightCodes = ids.map { generator.code(for: $0) }
    let wrongCodes = rightCodes.map { DeliveryCode(value: ($0.value + 500_000) % 1_000_000)! }
    Benchmark("verify right code", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(generator.verify(rightCodes[index & idMask], for: ids[index & idMask]))
        }
    }
    Benchmark("verify wrong code", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(generator.verify(wrongCodes[index & idMask], for: ids[index & idMask]))
        }
    }

    // 3. Day keys: HKDF-SHA256 derivations per second.
    let dates = (0..<64).map { DeliveryDate(daysSinceEpoch: 19_700 + $0)! }
    Benchmark("day key (HKDF-SHA256)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(DayKey(masterSecret: fixture.master, scope: fixture.scope, date: dates[index & 63]))
        }
    }

    // 4. A batch of 1,000,000 (shipment, date, scope) rows in memory: 3 dates x 50 scopes.
    let batch = fixture.batch
    for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
        Benchmark(
            "batch of 1M rows, \(threads) thread\(threads == 1 ? "" : "s")",
            configuration: .init(scalingFactor: .mega, maxIterations: smoke ? 1 : 20)
        ) { benchmark in
            // Derive the 150 day keys outside the measurement.
            let issuer = try CodeIssuer(keyring: fixture.keyring, preparing: batch.map { CodeIssuer.Slot(scope: $0.scope, date: $0.date) })
            benchmark.startMeasurement()
            blackHole(try issuer.codes(for: batch, threads: threads))
        }
    }

    // 4b. A manifest file issued end to end (CSV in, CSV out to /dev/null), 200,000 rows.
    let manifestPath = Fixture.writeManifest(rows: 200_000)
    for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
        Benchmark(
            "manifest of 200k CSV rows, \(threads) thread\(threads == 1 ? "" : "s")",
            configuration: .init(
                metrics: [.throughput, .wallClock, .mallocCountTotal, .peakMemoryResident],
                maxIterations: smoke ? 1 : 20)
        ) { benchmark in
            let input = open(manifestPath, O_RDONLY), output = open("/dev/null", O_WRONLY)
            defer { close(input); close(output) }
            let issuer = ManifestIssuer(
                keyring: fixture.keyring,
                options: .init(
                    format: .csv, timeZone: try DeliveryTimeZone("UTC"),
                    threads: threads))
            blackHole(try issuer.run(input: input, output: output, rejects: output))
        }
    }

    // 4c. A 1M-row manifest to a real file, committed as the command commits it
    // (temporary name, fsync, rename), so the disk is included. Larger than 4b:
    // the commit's fsync has a fixed cost that would dominate 200k rows.
    let largeManifestPath = Fixture.writeManifest(rows: smoke ? 20_000 : 1_000_000)
    let committedPath = NSTemporaryDirectory() + "/delivery-otp-bench-output.csv"
    Benchmark(
        "manifest of 1M CSV rows to a committed file, \(ProcessInfo.processInfo.activeProcessorCount) threads",
        configuration: .init(metrics: [.throughput, .wallClock, .peakMemoryResident], maxIterations: smoke ? 1 : 20)
    ) { benchmark in
        let input = open(largeManifestPath, O_RDONLY), rejects = open("/dev/null", O_WRONLY)
        defer { close(input); close(rejects) }
        let output = try AtomicFile.Pending(path: committedPath, mode: .replace)
        let issuer = ManifestIssuer(keyring: fixture.keyring, options: .init(format: .csv, timeZone: try DeliveryTimeZone("UTC")))
        blackHole(try issuer.run(input: input, output: output.fd, rejects: rejects))
        try output.commit()
    }

    // 5. Peers on the same inputs.
    let dayKeyBytes = fixture.dayKeyBytes
    let messages = ids.map { Array($0.rawValue.utf8) + generator.date.asciiBytes }
    Benchmark("peer: OpenSSL HMAC() one-shot per code", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var tag = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        for index in benchmark.scaledIterations {
            let message = messages[index & idMask]
            _ = HMAC(EVP_sha256(), dayKeyBytes, Int32(dayKeyBytes.count), message, message.count, &tag, &length)
            blackHole(Fixture.truncate(tag))
        }
    }
    let cryptoKey = SymmetricKey(data: dayKeyBytes)
    Benchmark("peer: swift-crypto HMAC<SHA256> per code", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for index in benchmark.scaledIterations {
            let tag = Crypto.HMAC<SHA256>.authenticationCode(for: messages[index & idMask], using: cryptoKey)
            blackHole(tag.withUnsafeBytes { Fixture.truncate(Array($0)) })
        }
    }
    Benchmark("compare: constant-time DeliveryCode ==", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(rightCodes[index & idMask] == wrongCodes[(index >> 1) & idMask])
        }
    }
    Benchmark("compare: plain Swift == on values", configuration: .init(scalingFactor: .mega)) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(rightCodes[index & idMask].value == wrongCodes[(index >> 1) & idMask].value)
        }
    }
}

/// Inputs shared by the benchmarks, made once.
struct Fixture: Sendable {
    let master = SecretKey(copying: (0..<32).map { UInt8($0) })
    let scope = try! Scope("DEPOT-12")
    let date = try! DeliveryDate("2024-01-17")
    let keyring: Keyring
    let generator: CodeGenerator
    let dayKeyBytes: [UInt8]
    /// 4,096 IDs of 18 characters, like `TBA` and 15 digits.
    let ids: [ShipmentID]
    /// The same IDs back to back, 18 bytes each.
    var packedIDs: [UInt8] { ids.flatMap { Array($0.rawValue.utf8) } }
    /// 1,000,000 rows across 3 dates and 50 scopes, sorted by date and scope as a manifest would be.
    let batch: [IssueRequest]

    init() {
        let master = self.master, firstDate = self.date
        let dayKey = DayKey(masterSecret: master, scope: scope, date: firstDate)
        generator = CodeGenerator(dayKey: dayKey)
        dayKeyBytes = dayKey.secret.withUnsafeBytes { Array($0) }
        ids = (0..<4096).map { try! ShipmentID("TBA" + String(String(100_000_000_000_000 + $0 * 7919).suffix(15))) }
        keyring = try! Keyring(keys: [
            Keyring.Key(
                id: try! KeyID("k-bench"), secret: master,
                activeFrom: try! DeliveryDate("2024-01-01"), createdAt: nil)
        ])
        let dates = (0..<3).map { firstDate.adding(days: $0)! }
        let scopes = (0..<50).map { try! Scope("DEPOT-\($0)") }
        batch = (0..<1_000_000).map { row in
            let slot = row * 150 / 1_000_000
            return IssueRequest(
                shipment: try! ShipmentID("TBA" + String(String(100_000_000_000_000 + row * 7919).suffix(15))),
                date: dates[slot / 50], scope: scopes[slot % 50])
        }
    }

    /// A synthetic manifest (as scripts/make-manifest writes) in the temporary folder.
    static func writeManifest(rows: Int) -> String {
        let path = NSTemporaryDirectory() + "/delivery-otp-bench-manifest-\(rows).csv"
        var text = "shipment_id,delivery_date,scope,order_value,currency\n"
        let currencies = ["EUR", "EUR", "GBP", "INR", "USD"]
        for row in 0..<rows {
            text += "TBA\(String(String(100_000_000_000_000 + row * 7919).suffix(15))),2024-01-\(17 + row * 3 / rows),"
            text += "DEPOT-\(row % 50),\(row % 400).\(row % 100),\(currencies[row % 5])\n"
        }
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// RFC 4226 truncation as the peers would write it.
    static func truncate(_ tag: [UInt8]) -> UInt32 {
        let o = Int(tag[31] & 0x0F)
        let p = UInt32(tag[o] & 0x7F) << 24 | UInt32(tag[o + 1]) << 16 | UInt32(tag[o + 2]) << 8 | UInt32(tag[o + 3])
        return p % 1_000_000
    }
}
