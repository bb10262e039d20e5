import Foundation
import Testing

@testable import DeliveryOTP

@Suite("Keyring format v1 and key selection")
struct KeyringTests {
    static let secretA = [UInt8](repeating: 0xA1, count: 32)
    static let secretB = [UInt8](repeating: 0xB2, count: 32)
    static let secretC = [UInt8](repeating: 0xC3, count: 16)

    static func parse(_ json: String) throws(KeyringError) -> Keyring {
        let result = Array(json.utf8).withUnsafeBytes { buffer in
            Result { () throws(KeyringError) in try Keyring(json: buffer) }
        }
        return try result.get()
    }

    static let rotated = KeyringJSON.make([
        .init(id: "k-2024-01-01-aaaa", secret: secretA, activeFrom: "2024-01-01"),
        .init(id: "k-2024-02-01-bbbb", secret: secretB, activeFrom: "2024-02-01"),
    ])

    @Test(
        "each date gets the unrevoked key that started last on or before it",
        arguments: [
            ("2024-01-01", "k-2024-01-01-aaaa"), ("2024-01-31", "k-2024-01-01-aaaa"),
            ("2024-02-01", "k-2024-02-01-bbbb"), ("2030-06-01", "k-2024-02-01-bbbb"),
        ])
    func selection(_ date: String, _ expected: String) throws {
        let keyring = try Self.parse(Self.rotated)
        #expect(try keyring.key(for: DeliveryDate(date)).id.rawValue == expected)
    }

    @Test("a date before every key has no key, never a fallback")
    func dateBeforeEveryKey() throws {
        let keyring = try Self.parse(Self.rotated)
        #expect(throws: KeyringError.noKeyCovers(try DeliveryDate("2023-12-31"))) { try keyring.key(for: DeliveryDate("2023-12-31")) }
        #expect(KeyringError.noKeyCovers(try DeliveryDate("2023-12-31")).description == "no key covers 2023-12-31")
    }

    @Test("a revoked key is skipped and the earlier key covers its dates")
    func revokedKeysAreSkipped() throws {
        let keyring = try Self.parse(
            KeyringJSON.make([
                .init(id: "k-a", secret: Self.secretA, activeFrom: "2024-01-01"),
                .init(id: "k-b", secret: Self.secretB, activeFrom: "2024-02-01", revokedAt: "2024-02-03T08:00:00Z"),
                .init(id: "k-c", secret: Self.secretC, activeFrom: "2024-02-01"),
            ]))
        #expect(try keyring.key(for: DeliveryDate("2024-02-10")).id.rawValue == "k-c")
        #expect(keyring.keys.count == 3)
    }

    @Test("two unrevoked keys starting the same day make the keyring invalid")
    func conflictingStarts() {
        #expect(throws: KeyringError.self) {
            try Self.parse(
                KeyringJSON.make([
                    .init(id: "k-a", secret: Self.secretA, activeFrom: "2024-01-01"),
                    .init(id: "k-b", secret: Self.secretB, activeFrom: "2024-01-01"),
                ]))
        }
    }

    @Test("duplicate key ids are refused")
    func duplicateIDs() {
        #expect(throws: KeyringError.duplicateKeyID(try! KeyID("k-a"))) {
            try Self.parse(
                KeyringJSON.make([
                    .init(id: "k-a", secret: Self.secretA, activeFrom: "2024-01-01"),
                    .init(id: "k-a", secret: Self.secretB, activeFrom: "2024-02-01"),
                ]))
        }
    }

    @Test("secrets shorter than 16 or longer than 64 bytes are refused without echoing them", arguments: [15, 65])
    func secretLength(_ length: Int) {
        let secret = [UInt8](repeating: 0x5A, count: length)
        do {
            _ = try Self.parse(KeyringJSON.make([.init(id: "k-a", secret: secret, activeFrom: "2024-01-01")]))
            Issue.record("a \(length)-byte secret was accepted")
        } catch {
            #expect(error.description.contains("\(length) bytes"))
            #expect(!error.description.contains(Data(secret).base64EncodedString()))
        }
    }

    @Test("another format, a newer version, a missing field and non-JSON are refused precisely")
    func malformed() {
        #expect(throws: KeyringError.wrongFormat(found: "delivery-otp-device-keys")) {
            try Self.parse(#"{"format": "delivery-otp-device-keys", "version": 1, "keys": []}"#)
        }
        #expect(throws: KeyringError.unsupportedVersion(2)) {
            try Self.parse(#"{"format": "delivery-otp-keyring", "version": 2, "keys": []}"#)
        }
        #expect(throws: KeyringError.invalidField(path: "keys[0].activeFrom", reason: "missing")) {
            try Self.parse(
                #"{"format": "delivery-otp-keyring", "version": 1, "keys": [{"id": "k", "secret": "AAAAAAAAAAAAAAAAAAAAAA=="}]}"#)
        }
        #expect(throws: KeyringError.noKeys) {
            try Self.parse(#"{"format": "delivery-otp-keyring", "version": 1, "keys": []}"#)
        }
        #expect(throws: KeyringError.self) { try Self.parse("not json") }
        #expect(throws: KeyringError.self) {
            try Self.parse(
                #"{"format": "delivery-otp-keyring", "version": 1, "keys": [{"id": "k", "secret": "!!", "activeFrom": "2024-01-01"}]}"#)
        }
    }

    @Test("unknown fields are ignored and the example flag is read")
    func unknownFields() throws {
        let keyring = try Self.parse(
            KeyringJSON.make(
                [.init(id: "k-a", secret: Self.secretA, activeFrom: "2024-01-01")],
                extra: #""example": true, "comment": "hello", "#))
        #expect(keyring.isExample)
        #expect(try !Self.parse(Self.rotated).isExample)
    }

    @Test("the shipped example keyring loads and has two keys a month apart")
    func exampleKeyring() throws {
        let loaded = try KeyringFile(path: Repository.path("keys-example/keyring.json")).load(passphrase: nil, exampleMayBeShared: true)
        let keyring = loaded.keyring
        #expect(keyring.isExample)
        #expect(loaded.warnings == [KeyringFile.exampleWarning])
        #expect(keyring.keys.map(\.activeFrom.description) == ["2024-01-01", "2024-02-01"])
    }
}
