/// Finds a member name given twice in one JSON object (RFC 8259 leaves the
/// meaning open: Foundation keeps the first, Python's `json` the last, so two
/// implementations would read different secrets). Key files refuse such a
/// document (SPEC.md §8).
///
/// Names are compared as Swift strings, the way the decoder's dictionaries do
/// (`"dayKeys"` and `"day\u212Aeys"` are one name), after their escapes are
/// resolved. A document this scanner cannot read to the end (deeper than 64
/// levels, a byte-order mark, text that is not one JSON object) is refused as
/// well: what it cannot check must not reach the decoder.
package enum JSONDuplicateMembers {
    package enum Finding: Equatable {
        /// The path of the first duplicate, such as `keys[0].secret`.
        case duplicate(String)
        /// Not readable as one JSON object in UTF-8 within the nesting bound.
        case unreadable
    }

    package static let maximumDepth = 64

    /// Nil when every object names each member once.
    package static func check(_ bytes: UnsafeRawBufferPointer) -> Finding? {
        var scanner = Scanner(bytes: bytes)
        do {
            scanner.skipSpace()
            guard scanner.peek == UInt8(ascii: "{") else { return .unreadable }
            if try scanner.value(depth: 0) { return .duplicate(scanner.path.joined()) }
            scanner.skipSpace()
            return scanner.index == bytes.count ? nil : .unreadable
        } catch {
            return .unreadable
        }
    }

    private struct Malformed: Error {}

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        /// The path to the value being read, as `keys`, `[0]`, `.secret` parts; joined only when reported.
        var path: [String] = []

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        /// True when a duplicate was found inside this value; `path` then leads to it.
        mutating func value(depth: Int) throws(Malformed) -> Bool {
            guard depth < maximumDepth else { throw Malformed() }
            skipSpace()
            switch peek {
            case UInt8(ascii: "{"):
                index += 1
                var names = Set<String>()
                skipSpace()
                if peek == UInt8(ascii: "}") { index += 1; return false }
                while true {
                    skipSpace()
                    let name = try string()
                    path.append(path.isEmpty ? name : "." + name)
                    if !names.insert(name).inserted { return true }
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw Malformed() }
                    index += 1
                    if try value(depth: depth + 1) { return true }
                    path.removeLast()
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "}") else { throw Malformed() }
                    index += 1
                    return false
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "]") { index += 1; return false }
                var element = 0
                while true {
                    path.append("[\(element)]")
                    if try value(depth: depth + 1) { return true }
                    path.removeLast()
                    element += 1
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "]") else { throw Malformed() }
                    index += 1
                    return false
                }
            case UInt8(ascii: "\""):
                _ = try string()
                return false
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try number()
            }
            return false
        }

        mutating func literal(_ word: StaticString) throws(Malformed) {
            let start = index
            let matches = word.withUTF8Buffer { expected in
                start + expected.count <= bytes.count && expected.indices.allSatisfy { bytes[start + $0] == expected[$0] }
            }
            guard matches else { throw Malformed() }
            index += word.utf8CodeUnitCount
        }

        /// A number as RFC 8259 §6 spells it: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?,
        /// within a Double's range. §6 lets a reader limit the range; every decoder behind this
        /// gate is Foundation's, which refuses a number that would be infinite (`1e400`), so the
        /// gate refuses it too rather than let through what no decoder reads.
        mutating func number() throws(Malformed) {
            let start = index
            try spelling()
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw Malformed() }
        }

        private mutating func spelling() throws(Malformed) {
            func digits() -> Int {
                let start = index
                while let byte = peek, byte >= 0x30 && byte <= 0x39 { index += 1 }
                return index - start
            }
            if peek == UInt8(ascii: "-") { index += 1 }
            if peek == UInt8(ascii: "0") {
                index += 1
            } else {
                guard let byte = peek, byte >= 0x31 && byte <= 0x39 else { throw Malformed() }
                _ = digits()
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw Malformed() }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw Malformed() }
            }
        }

        /// Four hex digits after `\u`.
        mutating func hexUnit() throws(Malformed) -> UInt32 {
            guard index + 4 <= bytes.count else { throw Malformed() }
            var unit: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Malformed()  // four hex digits, and nothing else: not "+abc"
                }
                unit = unit << 4 | UInt32(digit)
            }
            index += 4
            return unit
        }

        /// A string's content with its escapes resolved, so `"a"` and `"\u0061"` are one name. Must be valid UTF-8.
        mutating func string() throws(Malformed) -> String {
            guard peek == UInt8(ascii: "\"") else { throw Malformed() }
            index += 1
            var content: [UInt8] = []
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: content, as: UTF8.self) else { throw Malformed() }
                    return text
                case UInt8(ascii: "\\"):
                    guard let escape = peek else { throw Malformed() }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "b"): content.append(0x08)
                    case UInt8(ascii: "f"): content.append(0x0C)
                    case UInt8(ascii: "n"): content.append(0x0A)
                    case UInt8(ascii: "r"): content.append(0x0D)
                    case UInt8(ascii: "t"): content.append(0x09)
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): content.append(escape)
                    case UInt8(ascii: "u"):
                        var scalar = try hexUnit()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                                throw Malformed()
                            }
                            index += 2
                            let low = try hexUnit()
                            guard (0xDC00...0xDFFF).contains(low) else { throw Malformed() }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let decoded = Unicode.Scalar(scalar) else { throw Malformed() }
                        content.append(contentsOf: Array(String(decoded).utf8))
                    default: throw Malformed()
                    }
                case 0x00..<0x20:
                    throw Malformed()
                default:
                    content.append(byte)
                }
            }
            throw Malformed()
        }
    }
}
