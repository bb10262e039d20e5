// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "DeliveryOTP",
    products: [
        .library(name: "DeliveryOTP", targets: ["DeliveryOTP"]),
        .library(name: "DeliveryOTPStore", targets: ["DeliveryOTPStore"]),
        .executable(name: "delivery-otp", targets: ["delivery-otp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // For the benchmark target only: the harness, and swift-crypto as a peer to compare with.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // The system OpenSSL 3 libcrypto: SHA-256, HMAC, HKDF, RAND_bytes, OPENSSL_cleanse.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // A Linux call the Glibc module leaves out: sync_file_range.
        .target(name: "CLinux"),
        // The library: spec v1, keyrings, code generation and verification. No CLI or I/O policy.
        .target(
            name: "DeliveryOTP",
            dependencies: ["CLibCrypto", "CLinux"]
        ),
        // The courier device's durable attempt store: SQLite through GRDB.
        .target(
            name: "DeliveryOTPStore",
            dependencies: ["DeliveryOTP", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The command line, a thin shell over the library.
        .executableTarget(
            name: "delivery-otp",
            dependencies: [
                "DeliveryOTP",
                "DeliveryOTPStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Counts heap allocations per code under valgrind (scripts/check-allocations).
        .executableTarget(
            name: "allocation-probe",
            dependencies: ["DeliveryOTP"],
            path: "Benchmarks/Tools/AllocationProbe"
        ),
        // Throughput against the SHA-256 limit and peers: `swift package benchmark`.
        .executableTarget(
            name: "DeliveryOTPBenchmarks",
            dependencies: [
                "DeliveryOTP",
                "CLibCrypto",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/DeliveryOTPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A cycle counter for the timing-leak test (Swift cannot emit rdtsc).
        .target(name: "CCycleCounter", path: "Benchmarks/Tools/CCycleCounter"),
        // dudect-style timing-leak test of verification (scripts/check-constant-time).
        .executableTarget(
            name: "timing-leak",
            dependencies: ["DeliveryOTP", "CCycleCounter"],
            path: "Benchmarks/Tools/TimingLeak"
        ),
        // valgrind client requests (memcheck.h macros), compiled in only with DELIVERY_OTP_MEMCHECK.
        .target(
            name: "CMemcheck",
            path: "Benchmarks/Tools/CMemcheck",
            cSettings: [.define("DELIVERY_OTP_MEMCHECK")]
        ),
        // Verification with the key marked undefined, run under memcheck (scripts/check-constant-time).
        .executableTarget(
            name: "constant-time-check",
            dependencies: ["DeliveryOTP", "CMemcheck"],
            path: "Benchmarks/Tools/ConstantTimeCheck"
        ),
        .testTarget(
            name: "DeliveryOTPTests",
            dependencies: [
                "DeliveryOTP",
                "DeliveryOTPStore",
                "CLibCrypto",
                "delivery-otp",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
        ),
    ],
    swiftLanguageModes: [.v6]
)
