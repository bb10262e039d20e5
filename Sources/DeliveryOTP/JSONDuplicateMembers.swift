/// Finds a member name given twice in one JSON object (RFC 8259 leaves the
/// meaning open: Foundation keeps the first, Python's `json` the last, so two
/// implementations would read different secrets). Key files refuse such a
/// document (SPEC.md §8).
///
/// It reads the bytes in place and only as far as it needs; text that is not
/// valid JSON is left for the decoder to report, so it answers nil then.
enum JSONDuplicateMembers {
    /// The path of the first duplicate, such as `keys[0].secret`; nil when there is none.
    static func first(in bytes: UnsafeRawBufferPointer) -> String? {
        var scanner = Scanner(bytes: bytes)
        return try? scanner.value(path: "", depth: 0)
    }

    private struct Malformed: Error {}

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        static let maximumDepth = 64

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        /// Returns the path of a duplicate inside this value, or nil.
        mutating func value(path: String, depth: Int) throws(Malformed) -> String? {
            guard depth < Self.maximumDepth else { throw Malformed() }
            skipSpace()
            switch peek {
            case UInt8(ascii: "{"):
                index += 1
                var names = Set<[UInt8]>()
                skipSpace()
                if peek == UInt8(ascii: "}") { index += 1; return nil }
                while true {
                    skipSpace()
                    let name = try string()
                    let child = path.isEmpty ? String(decoding: name, as: UTF8.self) : "\(path).\(String(decoding: name, as: UTF8.self))"
                    if !names.insert(name).inserted { return child }
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw Malformed() }
                    index += 1
                    if let found = try value(path: child, depth: depth + 1) { return found }
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "}") else { throw Malformed() }
                    index += 1
                    return nil
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "]") { index += 1; return nil }
                var element = 0
                while true {
                    if let found = try value(path: "\(path)[\(element)]", depth: depth + 1) { return found }
                    element += 1
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "]") else { throw Malformed() }
                    index += 1
                    return nil
                }
            case UInt8(ascii: "\""):
                _ = try string()
                return nil
            case nil:
                throw Malformed()
            default:
                // A number, true, false or null: skip to the next delimiter.
                while let byte = peek, byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]"),
                      byte != 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D { index += 1 }
                return nil
            }
        }

        /// Four hex digits after `\u`.
        mutating func hexUnit() throws(Malformed) -> UInt32 {
            guard index + 4 <= bytes.count,
                  let unit = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else { throw Malformed() }
            index += 4
            return unit
        }

        /// A string's content with its escapes resolved, so `"a"` and `"\u0061"` are one name.
        mutating func string() throws(Malformed) -> [UInt8] {
            guard peek == UInt8(ascii: "\"") else { throw Malformed() }
            index += 1
            var content: [UInt8] = []
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return content
                case UInt8(ascii: "\\"):
                    guard let escape = peek else { throw Malformed() }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "b"): content.append(0x08)
                    case UInt8(ascii: "f"): content.append(0x0C)
                    case UInt8(ascii: "n"): content.append(0x0A)
                    case UInt8(ascii: "r"): content.append(0x0D)
                    case UInt8(ascii: "t"): content.append(0x09)
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
                    default: content.append(escape)
                    }
                default:
                    content.append(byte)
                }
            }
            throw Malformed()
        }
    }
}
