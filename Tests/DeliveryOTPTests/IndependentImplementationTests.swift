import Foundation
import Testing

/// Codes from the built `delivery-otp issue` equal those of
/// `scripts/reference_v1.py`, an implementation written from SPEC.md with
/// Python's hmac and hashlib, for random secrets, scopes, dates and IDs.
@Suite("Agreement with an independent implementation")
struct IndependentImplementationTests {
    static let printable = (0x21...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }
    static let scopeCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")

    @Test("random secrets, scopes, dates and IDs give the same codes as the Python reference")
    func randomAgreement() async throws {
        var generator = SystemRandomNumberGenerator()
        let directory = try TemporaryDirectory()
        for round in 0..<16 {
            let secretLength = [16, 32, 64, Int.random(in: 16...64, using: &generator)][round % 4]
            let secret = (0..<secretLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let scope =
                round % 4 == 0
                ? ""
                : String(
                    (0..<Int.random(in: 1...32, using: &generator)).map { _ in Self.scopeCharacters.randomElement(using: &generator)! })
            let days = Int.random(in: 0...(365 * 200), using: &generator)
            let date = ISO8601DateFormatter.string(
                from: Date(timeIntervalSince1970: Double(days) * 86_400 + 946_684_800),
                timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
            let ids = (0..<20).map { _ in
                String((0..<Int.random(in: 1...64, using: &generator)).map { _ in Self.printable.randomElement(using: &generator)! })
            }
            let keyring = try directory.write(
                "keyring-\(round).json",
                KeyringJSON.make([.init(id: "k-random", secret: secret, activeFrom: "2000-01-01")]))
            let result = try await CommandRunner.run(
                ["issue", "--keyring", keyring, "--date", date] + (scope.isEmpty ? [] : ["--scope=\(scope)"]) + ["--"] + ids)
            #expect(result.status == 0, "\(result.stderr)")
            let ours = result.stdout.split(separator: "\n").map(String.init)

            let request = ids.map { "\(Hex.string(secret))\t\(scope)\t\(date)\t\($0)" }.joined(separator: "\n") + "\n"
            let reference = try await Self.python(["--batch"], stdin: request)
            let theirs = reference.split(separator: "\n").map { String($0.split(separator: " ")[1]) }
            #expect(ours == theirs, "secret length \(secretLength), scope '\(scope)', date \(date)")
        }
    }

    static func python(_ arguments: [String], stdin: String) async throws -> String {
        try await CommandRunner.run(
            ["python3", Repository.path("scripts/reference_v1.py")] + arguments, stdin: stdin, program: "/usr/bin/env"
        ).stdout
    }
}
