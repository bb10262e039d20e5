// swift-tools-version: 6.1
// The benchmarks and the measuring tools, in a package of their own so that
// depending on DeliveryOTP never resolves or builds the benchmark harness or
// swift-crypto (package-benchmark's layout for a separate benchmark package).
// Run from this folder: `swift package benchmark` (see ../BENCHMARKS.md).
import PackageDescription

let package = Package(
    name: "DeliveryOTPBenchmarks",
    dependencies: [
        // traits: []: the library only, without the service's packages (see the root Package.swift).
        .package(name: "DeliveryOTP", path: "..", traits: []),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // A peer to compare with.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // OpenSSL's one-shot HMAC(), a peer to compare with.
        .systemLibrary(name: "CLibCryptoPeer", path: "Tools/CLibCryptoPeer", pkgConfig: "libcrypto"),
        // Throughput against the SHA-256 limit and peers: `swift package benchmark`.
        .executableTarget(
            name: "DeliveryOTPBenchmarks",
            dependencies: [
                .product(name: "DeliveryOTP", package: "DeliveryOTP"),
                "CLibCryptoPeer",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/DeliveryOTPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Counts heap allocations per code under valgrind (scripts/check-allocations).
        .executableTarget(
            name: "allocation-probe",
            dependencies: [.product(name: "DeliveryOTP", package: "DeliveryOTP")],
            path: "Tools/AllocationProbe"
        ),
        // A cycle counter for the timing-leak test (Swift cannot emit rdtsc).
        .target(name: "CCycleCounter", path: "Tools/CCycleCounter"),
        // dudect-style timing-leak test of verification (scripts/check-constant-time).
        .executableTarget(
            name: "timing-leak",
            dependencies: [.product(name: "DeliveryOTP", package: "DeliveryOTP"), "CCycleCounter"],
            path: "Tools/TimingLeak"
        ),
        // valgrind client requests (memcheck.h macros), compiled in only with DELIVERY_OTP_MEMCHECK.
        .target(
            name: "CMemcheck",
            path: "Tools/CMemcheck",
            cSettings: [.define("DELIVERY_OTP_MEMCHECK")]
        ),
        // Verification with the key marked undefined, run under memcheck (scripts/check-constant-time).
        .executableTarget(
            name: "constant-time-check",
            dependencies: [.product(name: "DeliveryOTP", package: "DeliveryOTP"), "CMemcheck"],
            path: "Tools/ConstantTimeCheck"
        ),
    ],
    swiftLanguageModes: [.v6]
)
