#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Standard base64 as SPEC.md §4 writes it: padded, no white space, and canonical,
/// so one secret has exactly one spelling (the unused bits of the last character are zero).
enum CanonicalBase64 {
    /// Calls `body` with the decoded bytes, then wipes them; nil when `text` is not canonical base64.
    static func withDecoded<R, E: Error>(_ text: String, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R? {
        guard var decoded = Data(base64Encoded: text) else { return nil }
        defer { decoded.withUnsafeMutableBytes { SecureMemory.wipe($0) } }
        var encoded = decoded.base64EncodedData()
        let canonical = encoded.elementsEqual(text.utf8)
        encoded.withUnsafeMutableBytes { SecureMemory.wipe($0) }
        guard canonical else { return nil }
        // Data.withUnsafeBytes erases typed throws: carry the outcome out in a Result.
        let outcome = decoded.withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try outcome.get()
    }

    /// The decoded bytes of a value that is not secret (a salt, a nonce, a ciphertext); nil when
    /// `text` is not canonical base64, so that one file has exactly one reading.
    static func decode(_ text: String) -> [UInt8]? {
        withDecoded(text) { Array($0) }
    }
}
