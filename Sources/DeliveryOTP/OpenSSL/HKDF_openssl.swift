internal import CLibCrypto

/// HKDF-SHA256 (RFC 5869) through OpenSSL 3's `EVP_KDF` "HKDF".
enum HKDF {
    /// The fetched algorithm, shared by all threads: `EVP_KDF` objects are immutable.
    private final class Algorithm: @unchecked Sendable {
        let kdf: OpaquePointer
        init() {
            guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else {
                fatalError("OpenSSL has no HKDF implementation; libcrypto 3 is required")
            }
            self.kdf = kdf
        }
    }
    private static let algorithm = Algorithm()

    // OSSL_PARAM keeps pointers to its names, so they must outlive the call: static strings do.
    private static let digestName: StaticString = "digest"
    private static let sha256Name: StaticString = "SHA256"
    private static let keyName: StaticString = "key"
    private static let saltName: StaticString = "salt"
    private static let infoName: StaticString = "info"

    /// Writes `output.count` bytes of HKDF-SHA256(ikm, salt, info) into `output`.
    /// An empty salt is omitted, which RFC 5869 defines as 32 zero bytes.
    static func deriveSHA256(
        ikm: UnsafeRawBufferPointer,
        salt: UnsafeRawBufferPointer,
        info: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) {
        precondition(output.count > 0 && output.count <= 255 * 32, "HKDF-SHA256 output length out of range")
        guard let ctx = EVP_KDF_CTX_new(algorithm.kdf) else { fatalError("EVP_KDF_CTX_new failed: out of memory") }
        defer { EVP_KDF_CTX_free(ctx) }

        // A zero-length key or info still needs a valid pointer.
        var empty: UInt8 = 0
        withUnsafeMutablePointer(to: &empty) { emptyPointer in
            func param(_ name: StaticString, _ bytes: UnsafeRawBufferPointer) -> OSSL_PARAM {
                OSSL_PARAM_construct_octet_string(
                    cString(name), UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(emptyPointer)),
                    bytes.count)
            }
            var params: [OSSL_PARAM] = [
                OSSL_PARAM_construct_utf8_string(
                    cString(digestName), UnsafeMutablePointer(mutating: cString(sha256Name)), 0),
                param(keyName, ikm),
                param(infoName, info),
            ]
            if salt.count > 0 { params.append(param(saltName, salt)) }
            params.append(OSSL_PARAM_construct_end())
            let status = params.withUnsafeBufferPointer { parameters in
                EVP_KDF_derive(
                    ctx, output.baseAddress!.assumingMemoryBound(to: UInt8.self), output.count,
                    parameters.baseAddress)
            }
            guard status == 1 else {
                ERR_clear_error()
                fatalError("EVP_KDF_derive(HKDF-SHA256) failed")
            }
        }
    }

    private static func cString(_ string: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}
