import CLibCrypto
import PropertyBased
import Testing

@testable import DeliveryOTP

/// The two primitives, checked against their RFCs' published vectors through
/// exactly the code paths the product uses.
@Suite("HMAC-SHA256 and HKDF-SHA256 primitives")
struct PrimitiveVectorTests {
    struct HMACCase: Sendable, CustomTestStringConvertible {
        let name: String, key: String, data: String, tag: String
        var testDescription: String { name }
    }

    // RFC 4231 §4.2-4.8. Case 5's tag is truncated to 128 bits by the RFC.
    static let rfc4231: [HMACCase] = [
        HMACCase(
            name: "RFC 4231 case 1", key: String(repeating: "0b", count: 20), data: "4869205468657265",
            tag: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        HMACCase(
            name: "RFC 4231 case 2", key: "4a656665", data: "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            tag: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        HMACCase(
            name: "RFC 4231 case 3", key: String(repeating: "aa", count: 20), data: String(repeating: "dd", count: 50),
            tag: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        HMACCase(
            name: "RFC 4231 case 4", key: "0102030405060708090a0b0c0d0e0f10111213141516171819",
            data: String(repeating: "cd", count: 50),
            tag: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        HMACCase(
            name: "RFC 4231 case 5", key: String(repeating: "0c", count: 20),
            data: "546573742057697468205472756e636174696f6e", tag: "a3b6167473100ee06e0c796c2955552b"),
        HMACCase(
            name: "RFC 4231 case 6", key: String(repeating: "aa", count: 131),
            data: "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
            tag: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        HMACCase(
            name: "RFC 4231 case 7", key: String(repeating: "aa", count: 131),
            data:
                "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
            tag: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("the HMAC midstate reproduces every RFC 4231 vector", arguments: rfc4231)
    func hmacMatchesRFC4231(_ vector: HMACCase) {
        let tag = Self.midstateHMAC(key: Hex.bytes(vector.key), message: Hex.bytes(vector.data))
        #expect(Hex.string(tag).hasPrefix(vector.tag))
    }

    @Test("the HMAC midstate equals OpenSSL's one-shot HMAC for random keys and messages")
    func hmacMatchesOpenSSL() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...130), Gen.uint8().array(of: 0...150)) { key, message in
            var expected = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            _ = HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &expected, &length)
            #expect(Self.midstateHMAC(key: key, message: message) == expected)
        }
    }

    @Test(
        "the HMAC midstate equals OpenSSL's HMAC for every message length across the one-block boundary",
        arguments: 0...150)
    func everyLength(_ length: Int) {
        let key = (0..<32).map { UInt8(($0 * 29 + length) & 0xFF) }
        let message = (0..<length).map { UInt8(($0 * 7 + 3) & 0xFF) }
        var expected = [UInt8](repeating: 0, count: 32)
        var size: UInt32 = 0
        _ = HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &expected, &size)
        #expect(Self.midstateHMAC(key: key, message: message) == expected)
    }

    @Test("two tags computed as a pair equal two tags computed one by one, for all length combinations")
    func pairs() {
        let key = (0..<32).map { UInt8($0 * 3) }
        var midstate = key.withUnsafeBytes { HMACSHA256Midstate(key: $0) }
        defer { midstate.wipe() }
        let suffix = Array("2024-01-17".utf8)
        for lengthA in stride(from: 0, through: 64, by: 3) {
            for lengthB in stride(from: 1, through: 64, by: 5) {
                let a = (0..<lengthA).map { UInt8(33 + $0 % 90) }, b = (0..<lengthB).map { UInt8(40 + $0 % 80) }
                var pairA = [UInt8](repeating: 0, count: 32), pairB = pairA
                withUnsafePointer(to: &midstate) { state in
                    a.withUnsafeBytes { a in
                        b.withUnsafeBytes { b in
                            suffix.withUnsafeBytes { d in
                                pairA.withUnsafeMutableBytes { ta in
                                    pairB.withUnsafeMutableBytes { tb in
                                        HMACSHA256Midstate.authenticatePair(state, a, b, d, into: ta.baseAddress!, tb.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
                #expect(pairA == Self.midstateHMAC(key: key, message: a + suffix, split: a.count))
                #expect(pairB == Self.midstateHMAC(key: key, message: b + suffix, split: b.count))
            }
        }
    }

    @Test("HKDF-SHA256 reproduces RFC 5869 test case 1")
    func hkdfCase1() {
        let okm = Self.hkdf(
            ikm: Hex.bytes(String(repeating: "0b", count: 22)), salt: Hex.bytes("000102030405060708090a0b0c"),
            info: Hex.bytes("f0f1f2f3f4f5f6f7f8f9"), length: 42)
        #expect(Hex.string(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test("HKDF-SHA256 with an empty salt reproduces RFC 5869 test case 3")
    func hkdfCase3() {
        let okm = Self.hkdf(ikm: Hex.bytes(String(repeating: "0b", count: 22)), salt: [], info: [], length: 42)
        #expect(Hex.string(okm) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    static func midstateHMAC(key: [UInt8], message: [UInt8], split: Int? = nil) -> [UInt8] {
        var midstate = key.withUnsafeBytes { HMACSHA256Midstate(key: $0) }
        defer { midstate.wipe() }
        var tag = [UInt8](repeating: 0, count: 32)
        // Split the message in two, as the product passes ID and date separately.
        let cut = split ?? message.count / 3
        withUnsafePointer(to: &midstate) { state in
            message.withUnsafeBytes { all in
                tag.withUnsafeMutableBytes { out in
                    HMACSHA256Midstate.authenticate(
                        state, UnsafeRawBufferPointer(rebasing: all[..<cut]),
                        UnsafeRawBufferPointer(rebasing: all[cut...]), into: out.baseAddress!)
                }
            }
        }
        return tag
    }

    static func hkdf(ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        ikm.withUnsafeBytes { ikm in
            salt.withUnsafeBytes { salt in
                info.withUnsafeBytes { info in
                    out.withUnsafeMutableBytes { HKDF.deriveSHA256(ikm: ikm, salt: salt, info: info, into: $0) }
                }
            }
        }
        return out
    }
}
