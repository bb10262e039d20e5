import Foundation
import Testing

@testable import DeliveryOTP

/// What the fuzz targets (Fuzz/, scripts/fuzz) found, each input kept as a test; the same inputs
/// are in the targets' seed corpora (Fuzz/Corpus/).
@Suite("Inputs the fuzzers found")
struct FuzzFindingTests {
    /// fuzz-keyring-envelope: the seed's salt with one byte inserted, 25 characters, which
    /// Foundation's base64 decoder took; written out again it read back as another salt.
    static let envelope = """
        {
          "format": "delivery-otp-keyring-encrypted",
          "version": 1,
          "kdf": { "name": "scrypt", "N": 131072, "r": 8, "p": 1, "salt": "SALT" },
          "cipher": "AES-256-GCM",
          "nonce": "NONCE",
          "ciphertext": "CIPHERTEXT"
        }
        """

    static func envelope(
        salt: String = "dQ6tBtx+dwrArkgbRlLqGw==", nonce: String = "iy8D54FIHtm6cnzb",
        ciphertext: String = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw=="
    )
        -> [UInt8]
    {
        Array(
            envelope.replacingOccurrences(of: "SALT", with: salt).replacingOccurrences(of: "NONCE", with: nonce)
                .replacingOccurrences(of: "CIPHERTEXT", with: ciphertext).utf8)
    }

    static func refusal(_ bytes: [UInt8]) -> KeyringError? {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(KeyringError) in try EncryptedKeyring.Envelope(parsing: buffer) }
        }
        guard case .failure(let error) = result else { return nil }
        return error
    }

    @Test("an encrypted keyring whose salt, nonce or ciphertext is not canonical base64 is refused, naming the field")
    func nonCanonicalBase64InEnvelope() throws {
        #expect(Self.refusal(Self.envelope()) == nil)
        // The fuzzer's input: one character inserted into the salt.
        guard case .invalidField(let path, _)? = Self.refusal(Self.envelope(salt: "dQ6tBtx+dwrArkgbRlL2qGw==")) else {
            Issue.record("a 25-character salt was read")
            return
        }
        #expect(path == "kdf.salt")
        // White space, and unused bits set in the last character: the same bytes under another spelling.
        guard case .invalidField("nonce", _)? = Self.refusal(Self.envelope(nonce: "iy8D54FIHtm6 cnzb")) else {
            Issue.record("a nonce with a space was read")
            return
        }
        guard
            case .invalidField("ciphertext", _)? = Self.refusal(
                Self.envelope(ciphertext: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJx=="))
        else {
            Issue.record("a ciphertext with unused bits set was read")
            return
        }
    }

    @Test("an uploaded attempt log line that names a member twice is refused with its line number")
    func duplicateMemberInAttemptLog() {
        let good =
            #"{"time":"2024-01-17T10:00:00Z","shipmentId":"TBA123456789000","deliveryDate":"2024-01-17","scope":"DEPOT-12","outcome":"rejected","attempt":1,"deviceId":"van-7"}"#
        // The fuzzer's input, shortened: which scope and outcome count would be a guess.
        let twice =
            #"{"time":"2024-01-17T10:00:00Z","shipmentId":"TBA123456789000","deliveryDate":"2024-01-17","scope":"DEPOT-06","outcome":"rejected","attempt":1,"scope":"DEPOT-12","outcome":"accepted"}"#
        #expect(throws: AttemptLogError(line: 2, reason: "the member scope is given twice")) {
            try AttemptRecord.records(jsonLines: good + "\n" + twice + "\n")
        }
        #expect((try? AttemptRecord.records(jsonLines: good + "\n" + good + "\n"))?.count == 2)
    }

    @Test(
        "the JSON gate lets through only what RFC 8259 allows: numbers, true, false and null spelt exactly, \\u with four hex digits",
        arguments: [
            (#"{"1-1":"07","code":-}"#, false),  // the fuzzer's input: a lone minus sign
            (#"{"a":01}"#, false), (#"{"a":1.}"#, false), (#"{"a":.5}"#, false), (#"{"a":1e}"#, false), (#"{"a":+1}"#, false),
            (#"{"a":tru}"#, false), (#"{"a":nulll}"#, false), (#"{"a":True}"#, false), (#"{"a":"\u+0ff"}"#, false),
            (#"{"a":-0.5e+3,"b":[true,false,null,0,1E9,-12.25e-2],"c":"\u00E9\ud83d\ude00"}"#, true),
        ])
    func gateReadsScalarsStrictly(_ text: String, _ readable: Bool) {
        let finding = Array(text.utf8).withUnsafeBytes { JSONDuplicateMembers.check($0) }
        #expect(finding == (readable ? nil : .unreadable), "\(text)")
    }

    @Test(
        "the JSON gate refuses a number beyond a Double's range, which Foundation would not read, and lets the rest through as Foundation does",
        arguments: [
            (#"{"sts":44444444e4444444}"#, false),  // the fuzzer's input
            (#"{"a":1e309}"#, false), (#"{"a":-1e309}"#, false), (#"{"a":1\#(String(repeating: "0", count: 400))}"#, false),
            (#"{"a":1.7976931348623157e308}"#, true), (#"{"a":1e-400}"#, true), (#"{"a":-0.0e-99999}"#, true),
            (#"{"a":123456789012345678901234567890}"#, true), (#"{"a":0e99999}"#, true),
            (#"{"a":1.7976931348623158e308}"#, true), (#"{"a":1.7976931348623159e308}"#, false),
        ])
    func gateRefusesNumbersOutOfRange(_ text: String, _ readable: Bool) {
        let finding = Array(text.utf8).withUnsafeBytes { JSONDuplicateMembers.check($0) }
        #expect(finding == (readable ? nil : .unreadable), "\(text)")
        // The property the fuzzer checks: what the gate lets through, Foundation reads as an object.
        let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        #expect((parsed is [String: Any]) == readable, "Foundation and the gate disagree on \(text)")
    }

    @Test("the JSON-lines reader keeps a U+FEFF that begins a string, as RFC 8259 and JSONDecoder do, and a scope with one is invalid")
    func byteOrderMarkInAString() throws {
        // The fuzzer's input (fuzz-json-record, CI's 60-second smoke run): JSONSerialization, the
        // target's first oracle, drops the mark; the reader is right to keep it.
        let line =
            #"{"shipment_id":"TBA123456789000","delivere":"2024-01-17","scope":"\#u{FEFF}{DEPOT-12","order_value":149.90,"currency":"EUR"}"#
        #expect(
            JSONRecordTests.parse(line)
                == .members(["shipment_id": "TBA123456789000", "scope": "\u{FEFF}{DEPOT-12", "order_value": "149.90", "currency": "EUR"]))
        let decoded = try JSONDecoder().decode(
            [String: String?].self, from: Data(line.replacingOccurrences(of: "149.90", with: "null").utf8))
        #expect(decoded["scope"] == "\u{FEFF}{DEPOT-12")
        // The fuzzer's second input: the mark after an escape, which JSONSerialization drops too.
        let second = "\u{FEFF}{ \"scope\" : \"\\u00e9\u{FEFF}\", \"order_valoe\" : -0.5e-3 , \"x-\": true}"
        #expect(JSONRecordTests.parse(second) == .members(["scope": "\u{E9}\u{FEFF}"]))
        #expect(
            (try JSONDecoder().decode([String: String].self, from: Data(#"{"scope":"\u00e9\#u{FEFF}"}"#.utf8)))["scope"] == "\u{E9}\u{FEFF}"
        )
        // What the target gives Foundation instead: the same string spelt with the escape, which
        // JSONSerialization keeps.
        let escaped = try JSONSerialization.jsonObject(with: Data(#"{"scope":"\u00e9\ufeff"}"#.utf8)) as? [String: Any]
        #expect(escaped?["scope"] as? String == "\u{E9}\u{FEFF}")
        // A name that begins with the mark is another member, not a duplicate of `scope`.
        #expect(JSONRecordTests.parse("{\"scope\":\"A\",\"\u{FEFF}scope\":\"B\"}") == .members(["scope": "A"]))
        // The manifest then rejects the row: a scope is printable ASCII.
        #expect(throws: InputError.self) { try Scope("\u{FEFF}{DEPOT-12") }
        #expect(throws: InputError.self) { try Scope("\u{FEFF}DEPOT-12") }
    }

    @Test("the JSON-lines reader gives a number of more than 17 digits as written, which Foundation reads as the same Decimal")
    func longNumberAsWritten() throws {
        // The fuzzer's input, shortened: Foundation reads it as an NSDecimalNumber, whose Double is
        // an ulp from the nearest one; the reader passes the text on, and the value policy reads it.
        let literal = "143333333333333333333333333333333333333333333333333333333333333333333333339.90"
        #expect(
            JSONRecordTests.parse(#"{"order_value":\#(literal),"currency":"EUR"}"#)
                == .members(["order_value": literal, "currency": "EUR"]))
        let object = try JSONSerialization.jsonObject(with: Data(#"{"order_value":\#(literal)}"#.utf8)) as? [String: Any]
        // Foundation's reading, as the target compares it: as a Decimal when it made one.
        let number = try #require(object?["order_value"] as? NSNumber)
        #expect((number as? NSDecimalNumber)?.decimalValue == Decimal(string: literal) || number.doubleValue == Double(literal))
    }
}
