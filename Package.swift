// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "DeliveryOTP",
    products: [
        .library(name: "DeliveryOTP", targets: ["DeliveryOTP"]),
        .executable(name: "delivery-otp", targets: ["delivery-otp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // The system OpenSSL 3 libcrypto: SHA-256, HMAC, HKDF, RAND_bytes, OPENSSL_cleanse.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The library: spec v1, keyrings, code generation and verification. No CLI or I/O policy.
        .target(
            name: "DeliveryOTP",
            dependencies: ["CLibCrypto"]
        ),
        // The command line, a thin shell over the library.
        .executableTarget(
            name: "delivery-otp",
            dependencies: [
                "DeliveryOTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Counts heap allocations per code under valgrind (scripts/check-allocations).
        .executableTarget(
            name: "allocation-probe",
            dependencies: ["DeliveryOTP"],
            path: "Benchmarks/AllocationProbe"
        ),
        .testTarget(
            name: "DeliveryOTPTests",
            dependencies: [
                "DeliveryOTP",
                "CLibCrypto",
                "delivery-otp",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
        ),
    ],
    swiftLanguageModes: [.v6]
)
