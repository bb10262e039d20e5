// swift-tools-version: 6.1
// Two small programs that embed DeliveryOTP the way its users do, built in CI
// (scripts/check-embedding) with warnings as errors: no unsafe pointers, no
// temporary files, no matching on error text, no concurrency diagnostics.
import PackageDescription

let package = Package(
    name: "DeliveryOTPEmbedding",
    dependencies: [
        // traits: []: the library only, without the service's packages (see the root Package.swift).
        .package(name: "DeliveryOTP", path: "../..", traits: [])
    ],
    targets: [
        // A courier handheld: day keys arrive as bytes, verification runs in an actor.
        .executableTarget(
            name: "courier-app",
            dependencies: [
                .product(name: "DeliveryOTP", package: "DeliveryOTP"),
                .product(name: "DeliveryOTPStore", package: "DeliveryOTP"),
            ]
        ),
        // A carrier's backend: the keyring comes encrypted, as bytes; codes are issued from tasks.
        .executableTarget(
            name: "issuing-backend",
            dependencies: [.product(name: "DeliveryOTP", package: "DeliveryOTP")]
        ),
        // The code in the DocC catalog and README's "Use the library", compiled and run.
        .executableTarget(
            name: "doc-snippets",
            dependencies: [
                .product(name: "DeliveryOTP", package: "DeliveryOTP"),
                .product(name: "DeliveryOTPStore", package: "DeliveryOTP"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
