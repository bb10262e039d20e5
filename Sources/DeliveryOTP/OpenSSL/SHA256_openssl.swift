internal import CLibCrypto

/// SHA-256 through OpenSSL's one-shot `EVP_Digest`: the service keeps only this digest of each
/// bearer token, and looks tokens up by it.
package enum SHA256Digest {
    /// The digest's length in bytes.
    package static let byteCount = 32

    /// SHA-256 fetched once: `EVP_sha256()` would make every call fetch it again.
    private final class Algorithm: @unchecked Sendable {
        let md: OpaquePointer
        init() {
            guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { fatalError("OpenSSL has no SHA-256; libcrypto 3 is required") }
            self.md = md
        }
    }
    private static let algorithm = Algorithm()

    /// The SHA-256 digest of `bytes`.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBytes { out in
            EVP_Digest(
                bytes.baseAddress ?? UnsafeRawPointer(out.baseAddress!), bytes.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, algorithm.md, nil)
        }
        // EVP_Digest fails only when OpenSSL cannot allocate or lacks SHA-256, which libcrypto 3 always has.
        precondition(ok == 1 && length == UInt32(byteCount), "OpenSSL SHA-256 failed")
        return digest
    }

    /// The SHA-256 digest of the UTF-8 bytes of `text`.
    package static func hash(_ text: some StringProtocol) -> [UInt8] {
        var copy = String(text)
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}
