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
}
