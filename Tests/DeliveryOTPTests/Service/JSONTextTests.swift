import Foundation
import Testing

@testable import DeliveryOTP

/// The hand-written JSON of log lines, answers and attempt records reads back as what was written.
@Suite("Hand-written JSON strings")
struct JSONTextTests {
    @Test(
        "A string literal decodes to the same string, with quotes, backslashes, controls and non-ASCII",
        arguments: ["", "plain", "quote \" and \\ backslash", "line\nfeed\r\ttab", "\u{0}\u{1}\u{1F}\u{7F}", "Zürich 東京 🚚", "\u{2028}"])
    func roundTrip(text: String) throws {
        let line = JSONText.line(scalars: [("value", .string(text))])
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["value"] == text)
        #expect(line.hasSuffix("}\n"))
        #expect(!line.dropLast().contains("\n"))
    }

    @Test(
        "A string literal is byte for byte what escaping each byte in turn gives",
        arguments: [
            "", "\"", "\"\"", "\\x\\", "\nstart", "end\t", "a\u{1}b\u{1F}c", "\"\\\n\r\t\u{0}", "Zürich\"東京\\🚚\n",
            String(repeating: "a", count: 600) + "\"", String(repeating: "\"", count: 300), String(repeating: "é\n", count: 400),
        ])
    func sameBytesAsByteByByte(text: String) {
        #expect(JSONText.lineBytes(scalars: [("k", .string(text))]) == Self.referenceLine(key: "k", value: text))
    }

    @Test("Random strings of escapes, ASCII and multi-byte characters give the same bytes as escaping each byte in turn")
    func randomStringsSameBytes() {
        let pieces = ["\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1B}", "\u{7F}", "a", "Z", "0", " ", "é", "東", "🚚", "\u{2028}"]
        var random = ManifestDifferentialTests.SeededGenerator(state: 0x5EED_1095)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...80, using: &random)
            let text = (0..<length).map { _ in pieces.randomElement(using: &random)! }.joined()
            #expect(JSONText.lineBytes(scalars: [("value", .string(text))]) == Self.referenceLine(key: "value", value: text))
        }
    }

    /// One line object of one string field, escaping byte by byte: the writer before it copied runs whole.
    static func referenceLine(key: String, value: String) -> [UInt8] {
        func literal(_ text: String) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case UInt8(ascii: "\n"): out += Array("\\n".utf8)
                case UInt8(ascii: "\r"): out += Array("\\r".utf8)
                case UInt8(ascii: "\t"): out += Array("\\t".utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
            return out
        }
        return Array("{".utf8) + literal(key) + Array(":".utf8) + literal(value) + Array("}\n".utf8)
    }
}
