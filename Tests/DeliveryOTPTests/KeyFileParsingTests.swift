import Foundation
import Testing

@testable import DeliveryOTP

/// Key files mean one thing to every reader: no member twice, one spelling per secret, bounded scrypt (review item 9).
@Suite("Key files: duplicate members, canonical base64, bounded encryption parameters")
struct KeyFileParsingTests {
    static let secret = "RVhBTVBMRS1PTkxZIGtleSAxOiBuZXZlciB1c2UgaW4="

    static func keyring(_ key: String) -> String {
        #"{"format": "delivery-otp-keyring", "version": 1, "keys": [\#(key)]}"#
    }

    @Test("a keyring key with \"secret\" given twice is refused with exit 65 and the member's path")
    func duplicateSecret() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(
            "kr.json",
            Self.keyring(
                #"{"id": "k-1", "secret": "\#(Self.secret)", "activeFrom": "2024-01-01", "secret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#
            ))
        let result = try await CommandRunner.run(["issue", "--keyring", path, "--date", "2024-01-17", "X"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("keys[0].secret is given twice"))
    }

    @Test(
        "duplicates are found at any depth and through escapes, and only real duplicates",
        arguments: [
            (#"{"a": 1, "a": 2}"#, "a"),
            (#"{"a": {"b": [1, {"c": 1, "c": 2}]}}"#, "a.b[1].c"),
            (#"{"a": 1, "\u0061": 2}"#, "a"),
            (#"{"é": 1, "\u00e9": 2}"#, "é"),
            (#"{"a": {"x": 1}, "b": {"x": 1}}"#, nil),
            (#"{"a": "a", "b": ["a", "a"]}"#, nil),
            // Names equal as strings (canonical equivalence), as the decoder's dictionaries see them.
            ("{\"day\u{212A}eys\": 1, \"dayKeys\": 2}", "dayKeys"),
        ] as [(String, String?)])
    func duplicateScanner(_ json: String, _ expected: String?) {
        let found = Array(json.utf8).withUnsafeBytes { JSONDuplicateMembers.check($0) }
        #expect(found == expected.map { .duplicate($0) })
    }

    @Test(
        "what the scanner cannot read to the end is refused, not waved through",
        arguments: [
            #"{"a": 1, "b""#,
            "\u{FEFF}{\"a\": 1, \"a\": 2}",
            String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
            #"{"a": [\#(String(repeating: "[", count: 70))\#(String(repeating: "]", count: 70))], "b": 1}"#,
            #"{"a": 1} trailing"#,
            #"["not", "an", "object"]"#,
        ])
    func unreadableIsRefused(_ json: String) {
        #expect(Array(json.utf8).withUnsafeBytes { JSONDuplicateMembers.check($0) } == .unreadable)
    }

    @Test("a keyring behind a byte-order mark, or nested past the bound, is refused with exit 65")
    func bypassesRefused() async throws {
        let directory = try TemporaryDirectory()
        let key = #"{"id": "k-1", "secret": "\#(Self.secret)", "activeFrom": "2024-01-01"}"#
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        for text in [
            "\u{FEFF}" + Self.keyring(key),
            #"{"format": "delivery-otp-keyring", "version": 1, "pad": \#(deep), "keys": [\#(key)]}"#,
        ] {
            let path = try directory.write("kr.json", text)
            let result = try await CommandRunner.run(["issue", "--keyring", path, "--date", "2024-01-17", "X"])
            #expect(result.status == 65, "\(result.stderr)")
        }
    }

    @Test("a device-key file with a member given twice is refused with exit 65")
    func duplicateInDeviceKeys() async throws {
        let directory = try TemporaryDirectory()
        let day = #"{"date": "2024-01-17", "keyId": "k-1", "secret": "\#(Self.secret)"}"#
        let path = try directory.write(
            "device.json",
            #"""
            {"format": "delivery-otp-device-keys", "version": 1, "scope": "D", "timeZone": "UTC", "scope": "E", "dayKeys": [\#(day)]}
            """#)
        let result = try await CommandRunner.run(["issue", "--device-keys", path, "--scope", "D", "--date", "2024-01-17", "X"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("scope: given twice"))
    }

    @Test("non-canonical base64 of a secret is refused: the same bytes may have one spelling only")
    func nonCanonicalBase64() async throws {
        let directory = try TemporaryDirectory()
        // '4' -> '5' sets an unused bit: Foundation alone would decode both to the same 32 bytes.
        let variant = String(Self.secret.dropLast(2)) + "5="
        #expect(Data(base64Encoded: variant) == Data(base64Encoded: Self.secret))
        for (text, accepted) in [(Self.secret, true), (variant, false), (" " + Self.secret, false)] {
            let path = try directory.write("kr.json", Self.keyring(#"{"id": "k-1", "secret": "\#(text)", "activeFrom": "2024-01-01"}"#))
            let result = try await CommandRunner.run(["issue", "--keyring", path, "--date", "2024-01-17", "X"])
            #expect(result.status == (accepted ? 0 : 65), "\(text): \(result.stderr)")
            if !accepted { #expect(result.stderr.contains("not canonical standard base64")) }
        }
    }

    @Test(
        "encrypted keyrings asking for more than the stated scrypt bounds are refused before any derivation",
        arguments: [
            ("\"N\": 4194304", "kdf.N"), ("\"r\": 17", "kdf.r"), ("\"p\": 5", "kdf.p"), ("\"N\": 100000", "kdf.N"),
            // OpenSSL refuses these itself (r · p ≥ 2^30): a command that derived before checking would say "scrypt (OpenSSL)".
            ("\"r\": 1073741824", "kdf.r"), ("\"p\": 1073741824", "kdf.p"),
        ])
    func hostileScryptParameters(_ replacement: String, _ field: String) async throws {
        let directory = try TemporaryDirectory()
        let keyring = directory.file("kr.json")
        let passphrase = try directory.write("passphrase", "correct horse battery staple\n")
        #expect(try await CommandRunner.run(["keys", "init", "--keyring", keyring, "--passphrase-file", passphrase]).status == 0)
        var text = try String(contentsOfFile: keyring, encoding: .utf8)
        #expect(text.contains("\"N\": 131072, \"r\": 8, \"p\": 1"))
        let name = replacement.split(separator: ":")[0]
        let original = ["\"N\"": "\"N\": 131072", "\"r\"": "\"r\": 8", "\"p\"": "\"p\": 1"][String(name)]!
        text = text.replacingOccurrences(of: original, with: replacement)
        try text.write(toFile: keyring, atomically: false, encoding: .utf8)
        // The parser takes no passphrase and derives nothing: refusing here is refusing before scrypt.
        let refusal = FuzzFindingTests.refusal(Array(text.utf8))
        guard case .invalidField(let path, _)? = refusal else {
            Issue.record("the envelope parser did not refuse \(replacement) as an invalid field: \(String(describing: refusal))")
            return
        }
        #expect(path == field)
        let result = try await CommandRunner.run(["keys", "list", "--keyring", keyring, "--passphrase-file", passphrase])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.contains("\(field): "))
        #expect(!result.stderr.contains("random source"))
        #expect(!result.stderr.contains("scrypt (OpenSSL)"))
    }

    @Test("a passphrase cipher failure is not reported as a failed random source")
    func scryptFailureIsNamed() {
        let error = KeyringFileError.encryption("scrypt (OpenSSL) could not derive the file key")
        #expect(error.description.hasPrefix("scrypt"))
        #expect(throws: PassphraseCipher.Failure.self) {
            // OpenSSL refuses an N that is not a power of two.
            try PassphraseCipher.deriveKey(
                passphrase: SecretKey(copying: [1, 2, 3]), salt: [UInt8](repeating: 0, count: 16), n: 3, r: 8, p: 1)
        }
    }
}
