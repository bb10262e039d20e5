import Foundation
import Testing

@testable import DeliveryOTP
@testable import DeliveryOTPServer

/// The one-pass reader of flat string objects, the verify body's fast way, against the general
/// way it skips (the strict checks and `JSONDecoder`).
@Suite("Flat string objects read in one pass")
struct JSONStringMembersTests {
    private static func members(_ text: String) -> [(name: String, value: String)]? {
        Array(text.utf8).withUnsafeBytes { JSONStringMembers.members(of: $0) }
    }

    private static func members(bytes: [UInt8]) -> [(name: String, value: String)]? {
        bytes.withUnsafeBytes { JSONStringMembers.members(of: $0) }
    }

    @Test("A flat object of plain strings gives its members in order, white space or none")
    func readsPlainObjects() throws {
        let compact = try #require(Self.members(#"{"shipmentId":"TBA123456789000","code":"123456"}"#))
        #expect(compact.map(\.name) == ["shipmentId", "code"])
        #expect(compact.map(\.value) == ["TBA123456789000", "123456"])
        let spaced = try #require(Self.members(" \t\r\n{ \"scope\" :\n\"A\" , \"x\":\"Zürich 東京 🚚\" }\n"))
        #expect(spaced.map(\.name) == ["scope", "x"])
        #expect(spaced.map(\.value) == ["A", "Zürich 東京 🚚"])
        #expect(try #require(Self.members("{}")).isEmpty)
        #expect(try #require(Self.members(#"{"":""}"#)).map(\.value) == [""])
    }

    @Test(
        "Anything but a flat object of plain strings is left to the general way",
        arguments: [
            #"{"code":"12\"3456"}"#, #"{"code":"\u0031"}"#, "{\"code\":\"1\t2\"}", #"{"code":123456}"#, #"{"scope":null}"#,
            #"{"a":{"b":"c"}}"#, #"{"a":["b"]}"#, #"{"a":true}"#, #"{"a":"1","a":"2"}"#, "{\"\u{212A}\":\"1\",\"K\":\"2\"}",
            #"{"a":"1",}"#, #"{"a":"1"} x"#, #"{"a":"1"}{}"#, #"{"a" "1"}"#, #"{"a":"1""#, #"{"a":"1"#, "{", "", " ",
            #"["a"]"#, #""a""#, "\u{FEFF}{}", #"{,}"#, #"{"a":"1" "b":"2"}"#, #"{'a':'1'}"#, #"{a:"1"}"#,
        ])
    func leavesTheRestToTheGeneralWay(text: String) {
        #expect(Self.members(text) == nil)
    }

    @Test("Bytes that are not UTF-8 inside a string are left to the general way")
    func refusesInvalidUTF8() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80]] {
            let body = Array(#"{"code":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(Self.members(bytes: body) == nil, "\(bad)")
        }
    }

    @Test("Eight members are read and a ninth is left to the general way")
    func boundsTheMembers() {
        func object(_ count: Int) -> String { "{" + (1...count).map { "\"m\($0)\":\"v\"" }.joined(separator: ",") + "}" }
        #expect(Self.members(object(8))?.count == 8)
        #expect(Self.members(object(9)) == nil)
    }

    @Test("Every member of the verify request is read from plain strings as JSONDecoder reads it")
    func verifyRequestReadsEveryMember() throws {
        let names = VerifyRoute.VerifyRequest.CodingKeys.allCases.map(\.rawValue)
        let body = Array(("{" + names.enumerated().map { "\"\($1)\":\"v\($0)\"" }.joined(separator: ",") + "}").utf8)
        let members = try #require(Self.members(bytes: body))
        let fast = try #require(VerifyRoute.VerifyRequest(stringMembers: members))
        let general = try JSONBody.decodeStrictly(VerifyRoute.VerifyRequest.self, from: body)
        #expect(Self.fields(fast) == Self.fields(general))
        #expect(Self.fields(fast) == names.indices.map { Array("v\($0)".utf8) as [UInt8]? })
    }

    /// The request's members as bytes (nil when absent), in the order of its coding keys.
    private static func fields(_ request: VerifyRoute.VerifyRequest) -> [[UInt8]?] {
        [request.shipmentId, request.code, request.scope].map { $0.map { Array($0.utf8) } }
    }

    /// A body from a few pieces, most of them plain and some not: names the verify body knows and
    /// others, escapes, non-ASCII, nulls, numbers, nesting, stray bytes and spaces.
    private static func randomBody(_ random: inout some RandomNumberGenerator) -> [UInt8] {
        let names = ["shipmentId", "code", "scope", "other", "", "\u{212A}", "K", "sc\\u006fpe", "c\u{0301}ode"]
        let values = [
            "\"TBA123456789000\"", "\"123456\"", "\"A\"", "\"\"", "\"Zürich 🚚\"", "\"12\\\"3\"", "null", "12", "{}", "[\"a\"]", "true",
            "\"\u{FEFF}x\"", "\"\u{7F}\"", "\"a\tb\"", "\"e\u{301}\"", "\"\u{E9}\"", "\"\u{212A}\"",
        ]
        // White space, now and then a no-break space, which JSON does not count as such.
        func space(_ random: inout some RandomNumberGenerator) -> String {
            random.next() % 64 == 0 ? "\u{A0}" : ["", "", " ", "\n", "\t", "\r\n"].randomElement(using: &random)!
        }
        var chosen = ["shipmentId", "code", "scope"].filter { _ in random.next() % 4 != 0 }
        chosen += (0..<Int(random.next() % 4)).map { _ in names.randomElement(using: &random)! }
        chosen.shuffle(using: &random)
        var text = random.next() % 16 == 0 ? "[" : "{"
        for (index, name) in chosen.enumerated() {
            if index > 0 { text += random.next() % 32 == 0 ? "" : "," }
            text += space(&random) + "\"" + name + "\""
            text += space(&random) + (random.next() % 32 == 0 ? "" : ":") + space(&random)
            text += random.next() % 4 == 0 ? values.randomElement(using: &random)! : values[Int(random.next() % 5)]
        }
        text += random.next() % 32 == 0 ? "," : ""
        text += space(&random) + (random.next() % 16 == 0 ? "" : "}") + space(&random)
        var bytes = Array(text.utf8)
        // Now and then one byte anywhere replaced by any byte.
        if random.next() % 16 == 0, !bytes.isEmpty {
            bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
        }
        return bytes
    }

    @Test("What the reader reads, JSONDecoder reads as the same members, byte for byte, over 20,000 random bodies")
    func agreesWithJSONDecoder() throws {
        var random = ManifestDifferentialTests.SeededGenerator(state: 0x5EED_0B0D)
        var read = 0
        for _ in 0..<20_000 {
            let body = Self.randomBody(&random)
            guard let members = Self.members(bytes: body) else { continue }
            read += 1
            let decoded = try JSONDecoder().decode([String: String].self, from: Data(body))
            #expect(decoded.count == members.count, "\(String(decoding: body, as: UTF8.self))")
            for (name, value) in members {
                #expect(decoded[name].map { Array($0.utf8) } == Array(value.utf8), "\(String(decoding: body, as: UTF8.self))")
            }
            #expect(body.withUnsafeBytes { JSONDuplicateMembers.check($0) } == nil)
        }
        // The generator must reach the reader often enough for the comparison to mean something.
        #expect(read > 2_000, "only \(read) bodies were read")
    }

    @Test("A verify body decodes to the same request, or fails with the same answer, both ways, over 20,000 random bodies")
    func verifyBodyAgreesWithTheGeneralWay() {
        var random = ManifestDifferentialTests.SeededGenerator(state: 0xC0DE_0B0D)
        var fast = 0
        for _ in 0..<20_000 {
            let body = Self.randomBody(&random)
            let general = Result { try JSONBody.decodeStrictly(VerifyRoute.VerifyRequest.self, from: body) }
            let either = Result { try JSONBody.decode(VerifyRoute.VerifyRequest.self, from: body) }
            let text = String(decoding: body, as: UTF8.self)
            switch (general, either) {
            case (.success(let expected), .success(let got)): #expect(Self.fields(expected) == Self.fields(got), "\(text)")
            case (.failure(let expected as APIError), .failure(let got as APIError)):
                #expect(expected.status == got.status && expected.error == got.error && expected.hint == got.hint, "\(text)")
            default: Issue.record("the two ways differ on \(text): \(general) and \(either)")
            }
            if let members = Self.members(bytes: body), VerifyRoute.VerifyRequest(stringMembers: members) != nil { fast += 1 }
        }
        #expect(fast > 1_000, "only \(fast) bodies took the fast way")
    }
}
