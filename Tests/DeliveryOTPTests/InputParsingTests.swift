import PropertyBased
import Testing

@testable import DeliveryOTP

@Suite("Parsing input at the edge")
struct InputParsingTests {
    @Test(
        "a shipment ID of 1 and of 64 printable characters is accepted",
        arguments: ["X", String(repeating: "~", count: 64), "TBA123456789000", "a\"b\\c!{}"])
    func validShipmentIDs(_ text: String) throws {
        #expect(try ShipmentID(text).rawValue == text)
    }

    @Test(
        "a shipment ID that is empty, 65 characters, or has a space, tab, DEL or non-ASCII is refused",
        arguments: ["", String(repeating: "A", count: 65), "TBA 123", "TBA\t1", "TBA\u{7F}", "TBÄ1", "TBA\n"])
    func invalidShipmentIDs(_ text: String) {
        #expect(throws: InputError.self) { try ShipmentID(text) }
    }

    @Test("ID validation on bytes agrees with ID validation on strings")
    func byteValidationAgrees() async {
        await propertyCheck(count: 500, input: Gen.uint8(in: 0x1F...0x80).array(of: 0...66)) { bytes in
            let viaBytes = bytes.withUnsafeBytes { ShipmentID.isValid(bytes: $0) }
            let viaString = (try? ShipmentID(String(decoding: bytes, as: UTF8.self))) != nil
            #expect(viaBytes == viaString)
        }
    }

    @Test(
        "real calendar dates parse and print back unchanged",
        arguments: ["2024-01-17", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31", "2023-12-31"])
    func validDates(_ text: String) throws {
        #expect(try DeliveryDate(text).description == text)
    }

    @Test(
        "impossible or misspelt dates are refused",
        arguments: [
            "2024-02-30", "2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "0000-01-01",
            "2024-1-17", "2024/01/17", "24-01-17", "2024-01-17 ", "２０２４-01-17", "",
        ])
    func invalidDates(_ text: String) {
        #expect(throws: InputError.self) { try DeliveryDate(text) }
    }

    @Test("the refusal of 2024-02-30 names the month's length")
    func februaryMessage() {
        #expect(throws: InputError.invalidDate("2024-02-30", reason: "February 2024 has 29 days")) { try DeliveryDate("2024-02-30") }
    }

    @Test("day arithmetic round-trips through days since 1970")
    func dayArithmetic() async throws {
        #expect(try DeliveryDate("1970-01-01").daysSinceEpoch == 0)
        #expect(try DeliveryDate("2024-03-01").adding(days: -1) == DeliveryDate("2024-02-29"))
        await propertyCheck(count: 500, input: Gen.int(in: -719_162...2_932_896)) { days in
            #expect(DeliveryDate(daysSinceEpoch: days)?.daysSinceEpoch == days)
        }
    }

    @Test("scopes of 0 to 32 allowed characters are accepted", arguments: ["", "DEPOT-12", "eu.west_1", String(repeating: "z", count: 32)])
    func validScopes(_ text: String) throws {
        #expect(try Scope(text).rawValue == text)
    }

    @Test(
        "scopes with other characters or over 32 characters are refused",
        arguments: ["DEPOT 12", "depot/1", "ä", String(repeating: "z", count: 33)])
    func invalidScopes(_ text: String) {
        #expect(throws: InputError.self) { try Scope(text) }
    }

    @Test(
        "typed codes: six digits with white space around them are codes",
        arguments: [("123456", 123_456), (" 000042\n", 42), ("\t999999 ", 999_999)] as [(String, UInt32)])
    func typedCodes(_ text: String, _ value: UInt32) {
        #expect(DeliveryCode(typed: text)?.value == value)
    }

    @Test(
        "typed text that is not exactly six digits is not a code",
        arguments: ["12345", "1234567", "12 3456", "12345a", "", "      ", "-12345", "١٢٣٤٥٦", "123456\u{0}"])
    func notCodes(_ text: String) {
        #expect(DeliveryCode(typed: text) == nil)
    }

    @Test("codes print as exactly six digits with leading zeros")
    func codeFormatting() {
        #expect(DeliveryCode(value: 7)?.description == "000007")
        #expect(DeliveryCode(value: 999_999)?.description == "999999")
        #expect(DeliveryCode(value: 1_000_000) == nil)
    }

    @Test("code equality is true exactly for equal values")
    func codeEquality() async {
        await propertyCheck(count: 500, input: Gen.uint32(in: 0...999_999), Gen.uint32(in: 0...999_999)) { a, b in
            #expect((DeliveryCode(value: a)! == DeliveryCode(value: b)!) == (a == b))
            #expect(DeliveryCode(value: a)! == DeliveryCode(value: a)!)
        }
    }

    @Test("RFC 3339 times parse with Z, offsets and fractions, and print in UTC")
    func timestamps() {
        #expect(Timestamp(rfc3339: "2023-12-20T10:00:00Z")?.description == "2023-12-20T10:00:00Z")
        #expect(Timestamp(rfc3339: "2024-01-18T00:30:00+01:00")?.description == "2024-01-17T23:30:00Z")
        #expect(Timestamp(rfc3339: "2024-01-17T23:59:59.999-05:00")?.description == "2024-01-18T04:59:59Z")
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00Z")?.secondsSinceEpoch == 0)
        for bad in ["2023-12-20", "2023-12-20T10:00:00", "2023-12-20T25:00:00Z", "2023-02-30T10:00:00Z", "2023-12-20T10:00:00+0100"] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
    }

    @Test("a secret key never shows its bytes in descriptions or mirrors")
    func secretsAreOpaque() {
        let secret = SecretKey(copying: Array("super-secret-value-123456789012".utf8))
        #expect(!"\(secret)".contains("super"))
        #expect(!String(reflecting: secret).contains("super"))
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("super") && !dumped.contains("73757065"))
        #expect(secret == SecretKey(copying: Array("super-secret-value-123456789012".utf8)))
        #expect(secret != SecretKey(copying: Array("super-secret-value-123456789013".utf8)))
    }
}
