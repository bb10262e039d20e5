import Foundation

/// Reads one JSON-lines record (RFC 8259) straight from its bytes: an object
/// whose `shipment_id`, `delivery_date`, `scope` and `currency` are strings and
/// whose `order_value` is a string or a number. Every other member is checked
/// to be valid JSON and skipped, however deeply nested.
///
/// A number keeps its literal text (`149.90`), so money is never rounded
/// through a binary floating-point value on its way to the value policy.
package enum JSONRecord {
    /// What a member of interest holds.
    package enum Value {
        /// A string (its bytes, unescaped) or, for `order_value`, a number's literal text.
        case text(UnsafeRawBufferPointer)
        /// `null`, which counts as absent.
        case null
        /// Anything else: true, false, an object, an array, or a number where a string belongs.
        case wrongType
    }

    package enum Failure: Error {
        /// Not one JSON object (or not UTF-8).
        case notAnObject
        /// A member of interest appears twice: which one counts would be a guess.
        case duplicate(String)
    }

    /// The member names the issuer reads, by ``ChunkWork/Field`` raw value.
    package static let names: [[UInt8]] = ChunkWork.Field.allCases.map { Array($0.name.utf8) }

    /// Parses `line` (without its line end), which must lie in a buffer with ``ByteBuffer/slack``
    /// readable bytes after it, as the manifest's chunks have: word-at-a-time loads read past the end. For each member of interest, calls
    /// `member` with its field number and value; an unescaped string points
    /// into `line`, an escaped one into `scratch` + 256 x field (256 bytes each;
    /// a longer one is cut there and reported with count 257, as too long).
    package static func parse(
        _ line: UnsafeRawBufferPointer, scratch: UnsafeMutableRawPointer,
        member: (Int, Value) -> Void
    ) throws(Failure) {
        guard let base = line.baseAddress else { throw .notAnObject }
        var cursor = Cursor(base: base, end: line.count)
        // Bytes of 0x80 and up must form valid UTF-8, as JSON requires.
        if !ByteWords.isASCII(base, count: line.count), String(validating: line, as: UTF8.self) == nil { throw .notAnObject }
        if line.starts(with: [0xEF, 0xBB, 0xBF]) { cursor.index = 3 }  // a byte order mark
        cursor.skipSpace()
        guard cursor.take(UInt8(ascii: "{")) else { throw .notAnObject }
        var seen: UInt8 = 0
        cursor.skipSpace()
        if !cursor.take(UInt8(ascii: "}")) {
            repeat {
                cursor.skipSpace()
                guard let key = cursor.string() else { throw .notAnObject }
                cursor.skipSpace()
                guard cursor.take(UInt8(ascii: ":")) else { throw .notAnObject }
                cursor.skipSpace()
                // A name with escapes (`shipment\u005fid`) is the name it decodes to, as for any JSON reader.
                let field =
                    key.escaped
                    ? withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { decoded -> Int? in
                        guard let length = unescape(base + key.start, count: key.end - key.start, into: decoded.baseAddress!),
                            length <= 256
                        else { return nil }
                        return names.firstIndex { name in
                            name.count == length && name.withUnsafeBytes { memcmp($0.baseAddress!, decoded.baseAddress!, length) == 0 }
                        }
                    }
                    : names.firstIndex { name in
                        name.count == key.end - key.start
                            && name.withUnsafeBytes { name in
                                memcmp(name.baseAddress!, base + key.start, name.count) == 0
                            }
                    }
                guard let field else {
                    guard cursor.skipValue(depth: 0) else { throw .notAnObject }
                    cursor.skipSpace()
                    continue
                }
                guard seen & (1 << field) == 0 else { throw .duplicate(String(decoding: names[field], as: UTF8.self)) }
                seen |= 1 << field
                member(field, try value(&cursor, field: field, scratch: scratch + 256 * field))
                cursor.skipSpace()
            } while cursor.take(UInt8(ascii: ","))
            guard cursor.take(UInt8(ascii: "}")) else { throw .notAnObject }
        }
        cursor.skipSpace()
        guard cursor.index == cursor.end else { throw .notAnObject }
    }

    private static func value(_ cursor: inout Cursor, field: Int, scratch: UnsafeMutableRawPointer) throws(Failure) -> Value {
        let start = cursor.index
        switch cursor.peek ?? 0 {
        case UInt8(ascii: "\""):
            guard let string = cursor.string() else { throw .notAnObject }
            guard string.escaped else {
                return .text(UnsafeRawBufferPointer(start: cursor.base + string.start, count: string.end - string.start))
            }
            guard let count = unescape(cursor.base + string.start, count: string.end - string.start, into: scratch) else {
                throw .notAnObject
            }
            return .text(UnsafeRawBufferPointer(start: scratch, count: count))
        case UInt8(ascii: "n"):
            guard cursor.literal("null") else { throw .notAnObject }
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard cursor.number() else { throw .notAnObject }
            // Only order_value may be a number.
            return field == ChunkWork.Field.value.rawValue
                ? .text(UnsafeRawBufferPointer(start: cursor.base + start, count: cursor.index - start)) : .wrongType
        default:
            guard cursor.skipValue(depth: 0) else { throw .notAnObject }
            return .wrongType
        }
    }

    /// Decodes a string's escapes into `destination` (256 bytes). Returns the
    /// length, 257 past 256 bytes, or nil for a `\u` escape that is a lone surrogate.
    private static func unescape(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutableRawPointer) -> Int? {
        var length = 0, index = 0
        func put(_ byte: UInt8) {
            if length < 256 { destination.storeBytes(of: byte, toByteOffset: length, as: UInt8.self) }
            length += 1
        }
        func hex(at offset: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { value, position in
                let byte = source.load(fromByteOffset: offset + position, as: UInt8.self)
                let digit: UInt8 =
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
                    default: byte - UInt8(ascii: "A") + 10  // validated by Cursor.string
                    }
                return value << 4 | UInt32(digit)
            }
        }
        while index < count {
            let byte = source.load(fromByteOffset: index, as: UInt8.self)
            guard byte == UInt8(ascii: "\\") else { put(byte); index += 1; continue }
            let escape = source.load(fromByteOffset: index + 1, as: UInt8.self)
            index += 2
            switch escape {
            case UInt8(ascii: "b"): put(0x08)
            case UInt8(ascii: "f"): put(0x0C)
            case UInt8(ascii: "n"): put(0x0A)
            case UInt8(ascii: "r"): put(0x0D)
            case UInt8(ascii: "t"): put(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex(at: index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard index + 6 <= count, source.load(fromByteOffset: index, as: UInt8.self) == UInt8(ascii: "\\"),
                        source.load(fromByteOffset: index + 1, as: UInt8.self) == UInt8(ascii: "u")
                    else { return nil }
                    let low = hex(at: index + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    return nil
                }
                for byte in Unicode.UTF8.encode(Unicode.Scalar(scalar)!)! { put(byte) }
            default: put(escape)  // \" \\ \/
            }
        }
        return min(length, 257)
    }

    /// A position in a line (or in a verify body, for `JSONStringMembers`), with JSON's token rules.
    /// Its white space, `take` and `string` read within `end` and need no slack.
    struct Cursor {
        let base: UnsafeRawPointer
        let end: Int
        var index = 0

        var peek: UInt8? { index < end ? base.load(fromByteOffset: index, as: UInt8.self) : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func literal(_ text: StaticString) -> Bool {
            let length = text.utf8CodeUnitCount
            guard end - index >= length, memcmp(base + index, text.utf8Start, length) == 0 else { return false }
            index += length
            return true
        }

        /// A string token: the bytes between its quotes, and whether it holds escapes.
        mutating func string() -> (start: Int, end: Int, escaped: Bool)? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            var escaped = false
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return (start, index - 1, escaped)
                case UInt8(ascii: "\\"):
                    escaped = true
                    index += 1
                    guard let escape = peek else { return nil }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let digit = peek,
                                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit)
                                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(digit)
                                    || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(digit)
                            else { return nil }
                            index += 1
                        }
                    default:
                        return nil
                    }
                case 0x00..<0x20:
                    return nil  // control characters must be escaped
                default:
                    index += 1
                }
            }
            return nil
        }

        /// A number token: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        mutating func number() -> Bool {
            _ = take(UInt8(ascii: "-"))
            func digits() -> Int {
                let start = index
                while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
                return index - start
            }
            if take(UInt8(ascii: "0")) {
                // No leading zeros: "01" is not a number.
            } else if digits() == 0 {
                return false
            }
            if take(UInt8(ascii: ".")) && digits() == 0 { return false }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                if digits() == 0 { return false }
            }
            return true
        }

        /// Any value, checked and skipped. Nesting deeper than 64 is refused
        /// rather than followed, so a hostile line cannot exhaust the stack.
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64, let byte = peek else { return false }
            switch byte {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                let isObject = byte == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                index += 1
                skipSpace()
                if take(close) { return true }
                repeat {
                    skipSpace()
                    if isObject {
                        guard string() != nil else { return false }
                        skipSpace()
                        guard take(UInt8(ascii: ":")) else { return false }
                        skipSpace()
                    }
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                } while take(UInt8(ascii: ","))
                return take(close)
            default:
                return false
            }
        }
    }
}
