import PropertyBased
import Testing

@testable import DeliveryOTP

@Suite("Dynamic truncation (spec §3)")
struct TruncationTests {
    /// RFC 4226 §5.3 as written, with the secret-indexed read it describes.
    static func naive(_ tag: [UInt8]) -> UInt32 {
        let o = Int(tag[31] & 0x0F)
        let p = UInt32(tag[o] & 0x7F) << 24 | UInt32(tag[o + 1]) << 16 | UInt32(tag[o + 2]) << 8 | UInt32(tag[o + 3])
        return p % 1_000_000
    }

    static func masked(_ tag: [UInt8]) -> UInt32 {
        tag.withUnsafeBytes { DynamicTruncation.code(fromTag: $0.baseAddress!).value }
    }

    @Test("the masked window equals RFC 4226's direct read for every offset", arguments: 0..<16)
    func everyOffset(offset: Int) {
        // Distinct bytes everywhere so that a wrong window cannot match by accident.
        var tag = (0..<32).map { UInt8(($0 * 37 + 11) & 0xFF) }
        tag[31] = (tag[31] & 0xF0) | UInt8(offset)
        #expect(Self.masked(tag) == Self.naive(tag))
    }

    @Test("the masked window equals RFC 4226's direct read for random tags")
    func randomTags() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 32...32)) { tag in
            #expect(Self.masked(tag) == Self.naive(tag))
        }
    }

    @Test("truncation on the tag's words equals truncation on its bytes")
    func wordsEqualBytes() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 32...32)) { tag in
            let words = tag.withUnsafeBytes { raw in
                (0..<8).map { UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            }
            let tuple = (words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7])
            #expect(DynamicTruncation.code(fromWords: tuple).value == Self.naive(tag))
        }
    }

    @Test("the RFC 4226 §5.4 example tag truncates to the published value")
    func rfc4226Example() {
        // The 20-byte HMAC-SHA-1 example, padded to 32 bytes with its offset byte (0x5a -> 10) last.
        var tag = Hex.bytes("1f8698690e02ca16618550ef7f19da8e945b555a") + [UInt8](repeating: 0, count: 12)
        tag[31] = 0x5a
        // RFC 4226: DBC = 0x50ef7f19 = 1357872921; six digits: 872921.
        #expect(Self.masked(tag) == 872_921)
    }
}
