#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes JSON with fields in a fixed order into a byte buffer, so that files
/// and output lines are stable and secret-bearing text never becomes a `String`.
///
/// The buffer never reallocates behind our back: when it must grow, the bytes
/// are copied to a larger buffer and the old one is wiped before it is freed,
/// so no stale copy of a secret's base64 stays in the heap.
package struct JSONText {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    /// Makes room for `count` more bytes, wiping the buffer it leaves.
    private mutating func reserve(_ count: Int) {
        let needed = bytes.count + count
        guard needed > bytes.capacity else { return }
        var grown: [UInt8] = []
        grown.reserveCapacity(max(needed, bytes.capacity * 2, 512))
        grown.append(contentsOf: bytes)
        bytes.withUnsafeMutableBytes { SecureMemory.wipe($0) }
        bytes = grown
    }

    private mutating func append(_ byte: UInt8) {
        reserve(1)
        bytes.append(byte)
    }

    private mutating func append(contentsOf data: some Collection<UInt8>) {
        reserve(data.count)
        bytes.append(contentsOf: data)
    }

    package mutating func raw(_ text: String) { append(contentsOf: text.utf8) }

    /// A JSON string literal (RFC 8259 §7). Over the UTF-8 bytes: a byte of a multi-byte character
    /// is never below 0x80, so only ASCII quotes, backslashes and controls are escaped and every
    /// other byte is copied as it is (the same output as escaping scalar by scalar, without making a
    /// string per character). The runs between escapes are copied whole: this writes every log line.
    package mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            reserve(utf8.count + 2)
            append(UInt8(ascii: "\""))
            var start = 0
            for index in utf8.indices where Self.needsEscape(utf8[index]) {
                append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                escape(utf8[index])
                start = index + 1
            }
            append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
            append(UInt8(ascii: "\""))
        }
    }

    /// Whether `byte` must be escaped in a string literal: a quote, a backslash or a control
    /// below 0x20 (DEL, 0x7F, may stand as it is, RFC 8259 §7).
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// The escape of a byte that ``needsEscape(_:)``.
    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case UInt8(ascii: "\n"): raw("\\n")
        case UInt8(ascii: "\r"): raw("\\r")
        case UInt8(ascii: "\t"): raw("\\t")
        default:
            let hex = String(byte, radix: 16)
            raw("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
        }
    }

    /// The standard base64 of a secret, written without an intermediate `String`.
    package mutating func base64(_ secret: SecretKey) {
        var encoded = secret.withUnsafeBytes { bytes in
            Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none)
                .base64EncodedData()
        }
        append(UInt8(ascii: "\""))
        append(contentsOf: encoded)
        append(UInt8(ascii: "\""))
        encoded.withUnsafeMutableBytes { SecureMemory.wipe($0) }
    }

    /// A value in a one-line object.
    package enum Scalar {
        case string(String)
        case integer(Int)
        case null
    }

    /// One line object of string fields (nil is `null`), in order, ending in a newline.
    package static func line(_ fields: [(String, String?)]) -> String {
        line(scalars: fields.map { ($0.0, $0.1.map(Scalar.string) ?? .null) })
    }

    /// One line object, in order, ending in a newline.
    package static func line(scalars fields: [(String, Scalar)]) -> String {
        String(decoding: lineBytes(scalars: fields), as: UTF8.self)
    }

    /// The bytes of ``line(scalars:)``, for writers that need no `String`.
    package static func lineBytes(scalars fields: [(String, Scalar)]) -> [UInt8] {
        var text = JSONText()
        text.raw("{")
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { text.raw(",") }
            text.string(key)
            text.raw(":")
            switch value {
            case .string(let string): text.string(string)
            case .integer(let number): text.raw(String(number))
            case .null: text.raw("null")
            }
        }
        text.raw("}\n")
        return text.bytes
    }

    /// Hands the bytes to `body`, then wipes them; for callers with typed errors.
    package mutating func consumeTyped<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { bytes.withUnsafeMutableBytes { SecureMemory.wipe($0) } }
        let result: Result<R, E> = bytes.withUnsafeBytes { buffer in Result { () throws(E) in try body(buffer) } }
        return try result.get()
    }

    /// Hands the bytes to `body`, then wipes them (for text that holds secrets).
    package mutating func consume<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        defer { bytes.withUnsafeMutableBytes { SecureMemory.wipe($0) } }
        return try bytes.withUnsafeBytes(body)
    }
}
