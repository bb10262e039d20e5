/// Reads, in one pass over its bytes, a JSON object whose members are all strings written
/// without escapes: the shape of nearly every body the service's verify endpoint gets
/// (`{"shipmentId":"TBA123456789000","code":"123456"}`), which otherwise passes three scans
/// (nesting, duplicate names, Foundation's `JSONDecoder`).
///
/// It answers `nil` for anything else, valid JSON or not: an escape, a control character, a
/// number, `null`, nesting, more than ``maximumMembers`` members, a name given twice, bytes that
/// are not UTF-8, a byte-order mark, anything after the object. The caller then reads the body
/// the general way, with its strict checks and its error messages. So this reader reads nothing
/// that the strict gate (``JSONDuplicateMembers``) refuses, and what it reads is what
/// `JSONDecoder` reads: the tests and the `json-members` fuzz target check both.
package enum JSONStringMembers {
    /// More members than this go the general way, whose duplicate check is not quadratic.
    package static let maximumMembers = 8

    /// The members in the order written, or `nil` when `bytes` is not such an object.
    ///
    /// Names are compared as Swift strings (canonical equivalence), as `JSONDecoder`'s
    /// dictionary of members and ``JSONDuplicateMembers`` compare them, so `"K"` and
    /// `"\u{212A}"` (the Kelvin sign) are one name given twice.
    package static func members(of bytes: UnsafeRawBufferPointer) -> [(name: String, value: String)]? {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        guard reader.take(UInt8(ascii: "{")) else { return nil }
        var members: [(name: String, value: String)] = []
        reader.skipSpace()
        if !reader.take(UInt8(ascii: "}")) {
            while true {
                guard members.count < maximumMembers, let name = reader.string() else { return nil }
                reader.skipSpace()
                guard reader.take(UInt8(ascii: ":")) else { return nil }
                reader.skipSpace()
                guard let value = reader.string(), !members.contains(where: { $0.name == name }) else { return nil }
                members.append((name, value))
                reader.skipSpace()
                if reader.take(UInt8(ascii: "}")) { break }
                guard reader.take(UInt8(ascii: ",")) else { return nil }
                reader.skipSpace()
            }
        }
        reader.skipSpace()
        return reader.index == bytes.count ? members : nil
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        /// RFC 8259's white space: space, tab, line feed, carriage return.
        mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
                index += 1
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// A string token with no escape and no control character, its contents valid UTF-8.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let contents = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    return String(validating: contents, as: UTF8.self)
                }
                // A backslash starts an escape and a byte below 0x20 is not allowed unescaped:
                // both are left to the general way.
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
                index += 1
            }
            return nil
        }
    }
}
