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
        // The manifest reader's cursor: JSON's white space, and string tokens with their escapes
        // and control characters checked.
        guard let base = bytes.baseAddress else { return nil }
        var cursor = JSONRecord.Cursor(base: base, end: bytes.count)
        /// A string token without escapes, its contents valid UTF-8.
        func plainString() -> String? {
            guard let token = cursor.string(), !token.escaped else { return nil }
            return String(validating: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
        }
        cursor.skipSpace()
        guard cursor.take(UInt8(ascii: "{")) else { return nil }
        var members: [(name: String, value: String)] = []
        cursor.skipSpace()
        if !cursor.take(UInt8(ascii: "}")) {
            while true {
                guard members.count < maximumMembers, let name = plainString() else { return nil }
                cursor.skipSpace()
                guard cursor.take(UInt8(ascii: ":")) else { return nil }
                cursor.skipSpace()
                guard let value = plainString(), !members.contains(where: { $0.name == name }) else { return nil }
                members.append((name, value))
                cursor.skipSpace()
                if cursor.take(UInt8(ascii: "}")) { break }
                guard cursor.take(UInt8(ascii: ",")) else { return nil }
                cursor.skipSpace()
            }
        }
        cursor.skipSpace()
        return cursor.index == bytes.count ? members : nil
    }
}
