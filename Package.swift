// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "DeliveryOTP",
    products: [
        .library(name: "DeliveryOTP", targets: ["DeliveryOTP"]),
        .library(name: "DeliveryOTPStore", targets: ["DeliveryOTPStore"]),
        .executable(name: "delivery-otp", targets: ["delivery-otp"]),
    ],
    // The online service's packages are behind the `Service` trait, on by default. A package that only
    // embeds the library depends on this one with `traits: []`, and SwiftPM then neither fetches nor
    // builds Hummingbird, NIO, swift-crypto and the rest (Examples/Embedding and Benchmarks do so).
    traits: [
        .trait(name: "Service", description: "The online code service, 'delivery-otp serve' (Hummingbird and friends)."),
        .default(enabledTraits: ["Service"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The online service (`delivery-otp serve`) only; the libraries use none of these, so a package
        // that depends on the DeliveryOTP product does not fetch or build them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Already under Hummingbird; named for `serve --event-loops` (NIOCore's loop count).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The service's shared store for several replicas (`serve --state postgres://...`).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
        // The fields of an X.509 certificate that the service reads from DER itself (a trust root's key),
        // in a target of their own so that a fuzz target can build them without the service.
        .target(name: "CertificateDER"),
        // The online code service: HTTP API, tokens, group-committed attempt store, metrics.
        .target(
            name: "DeliveryOTPServer",
            dependencies: [
                "CertificateDER",
                "DeliveryOTP",
                "DeliveryOTPStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Service"])),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth", condition: .when(traits: ["Service"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["Service"])),
                .product(name: "Logging", package: "swift-log", condition: .when(traits: ["Service"])),
                .product(name: "Metrics", package: "swift-metrics", condition: .when(traits: ["Service"])),
                .product(name: "Prometheus", package: "swift-prometheus", condition: .when(traits: ["Service"])),
                .product(name: "HTTPTypes", package: "swift-http-types", condition: .when(traits: ["Service"])),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Service"])),
                .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Service"])),
                .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Service"])),
            ]
        ),
        // The command line, a thin shell over the library.
        .executableTarget(
            name: "delivery-otp",
            dependencies: [
                "DeliveryOTP",
                "DeliveryOTPStore",
                "DeliveryOTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "DeliveryOTPTests",
            dependencies: [
                "CertificateDER",
                "DeliveryOTP",
                "DeliveryOTPStore",
                "CLibCrypto",
                "delivery-otp",
                "DeliveryOTPServer",
                .product(name: "HummingbirdTesting", package: "hummingbird", condition: .when(traits: ["Service"])),
                .product(name: "HTTPTypes", package: "swift-http-types", condition: .when(traits: ["Service"])),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Service"])),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzz targets (Fuzz/): one libFuzzer executable per parser. They exist only when
// DELIVERY_OTP_FUZZ=1, which scripts/fuzz sets along with the fuzzer and address sanitizer
// flags, so `swift build` and `swift test` neither build nor list them.
if Context.environment["DELIVERY_OTP_FUZZ"] == "1" {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Support"))
    for name in ["attempt-log", "code", "device-keys", "json-members", "json-record", "keyring", "keyring-envelope", "manifest", "time"] {
        package.targets.append(
            .executableTarget(name: "fuzz-\(name)", dependencies: ["DeliveryOTP", "FuzzSupport"], path: "Fuzz/Targets/\(name)"))
    }
    package.targets.append(.executableTarget(name: "fuzz-der", dependencies: ["CertificateDER", "FuzzSupport"], path: "Fuzz/Targets/der"))
}
