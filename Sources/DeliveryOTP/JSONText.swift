#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes JSON with fields in a fixed order into a byte buffer, so that files
/// and output lines are stable and secret-bearing text never becomes a `String`.
package struct JSONText {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string literal (RFC 8259 §7).
    package mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": raw("\\\"")
            case "\\": raw("\\\\")
            case "\n": raw("\\n")
            case "\r": raw("\\r")
            case "\t": raw("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                raw("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The standard base64 of a secret, written without an intermediate `String`.
    package mutating func base64(_ secret: SecretKey) {
        var encoded = secret.withUnsafeBytes { bytes in
            Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none)
                .base64EncodedData()
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: encoded)
        bytes.append(UInt8(ascii: "\""))
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
        return String(decoding: text.bytes, as: UTF8.self)
    }

    /// Hands the bytes to `body`, then wipes them (for text that holds secrets).
    package mutating func consume<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        defer { bytes.withUnsafeMutableBytes { SecureMemory.wipe($0) } }
        return try bytes.withUnsafeBytes(body)
    }
}
