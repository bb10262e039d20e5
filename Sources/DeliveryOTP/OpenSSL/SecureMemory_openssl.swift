internal import CLibCrypto

/// Wiping, constant-time comparison and randomness, all from libcrypto.
package enum SecureMemory {
    /// Overwrites `buffer` with zeros in a way the compiler cannot elide.
    package static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        OPENSSL_cleanse(base, buffer.count)
    }

    /// Compares two equally long buffers without an early exit (`CRYPTO_memcmp`).
    package static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        precondition(a.count == b.count, "constant-time comparison needs equal lengths")
        guard a.count > 0 else { return true }
        return CRYPTO_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }
}

package enum SecureRandom {
    /// Fills `buffer` from OpenSSL's CSPRNG, seeded by the OS (`getrandom`).
    package static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(RandomSourceError) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            ERR_clear_error()
            throw RandomSourceError()
        }
    }

    /// Random bytes that are not secret (key id suffixes).
    package static func bytes(count: Int) throws(RandomSourceError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let filled = out.withUnsafeMutableBytes { buffer in (try? fill(buffer)) != nil }
        guard filled else { throw RandomSourceError() }
        return out
    }
}
