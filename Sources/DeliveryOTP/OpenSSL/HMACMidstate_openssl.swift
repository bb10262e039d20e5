internal import CLibCrypto

/// HMAC-SHA256 (RFC 2104) with its two keyed SHA-256 states computed once.
///
/// After `init`, the inner and outer states have absorbed `K0 ^ ipad` and
/// `K0 ^ opad`; authenticating a short message then costs two SHA-256
/// compressions (one more if the message is 56 bytes or longer) and no
/// allocation. The SHA-256 compression and padding are OpenSSL's
/// (`SHA256_Update`, `SHA256_Final`); only the standard key schedule of
/// RFC 2104 §2 is written here. The state is key material: the owner wipes it.
struct HMACSHA256Midstate {
    private var inner = SHA256_CTX()
    private var outer = SHA256_CTX()

    static let blockSize = 64
    static let tagSize = 32

    init(key: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: Self.blockSize, alignment: 16) { block in
            block.initializeMemory(as: UInt8.self, repeating: 0)
            if key.count > Self.blockSize {
                // RFC 2104: keys longer than the block are hashed first.
                _ = SHA256(key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count,
                           block.baseAddress!.assumingMemoryBound(to: UInt8.self))
            } else if key.count > 0 {
                block.baseAddress!.copyMemory(from: key.baseAddress!, byteCount: key.count)
            }
            for i in 0..<Self.blockSize { block[i] ^= 0x36 }
            SHA256_Init(&inner)
            SHA256_Update(&inner, block.baseAddress, Self.blockSize)
            for i in 0..<Self.blockSize { block[i] ^= 0x36 ^ 0x5c }
            SHA256_Init(&outer)
            SHA256_Update(&outer, block.baseAddress, Self.blockSize)
            OPENSSL_cleanse(block.baseAddress, Self.blockSize)
        }
    }

    /// Writes HMAC-SHA256(key, first || second) into `tag` (32 bytes).
    @inline(__always)
    func authenticate(
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        into tag: UnsafeMutableRawPointer
    ) {
        var context = inner
        SHA256_Update(&context, first.baseAddress, first.count)
        SHA256_Update(&context, second.baseAddress, second.count)
        var innerDigest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &innerDigest) { digest in
            let bytes = digest.baseAddress!.assumingMemoryBound(to: UInt8.self)
            SHA256_Final(bytes, &context)
            context = outer
            SHA256_Update(&context, bytes, Self.tagSize)
        }
        SHA256_Final(tag.assumingMemoryBound(to: UInt8.self), &context)
    }

    /// Overwrites both states.
    mutating func wipe() {
        withUnsafeMutableBytes(of: &inner) { SecureMemory.wipe($0) }
        withUnsafeMutableBytes(of: &outer) { SecureMemory.wipe($0) }
    }
}
