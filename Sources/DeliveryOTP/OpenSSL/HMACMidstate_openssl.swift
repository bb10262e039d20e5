internal import CLibCrypto

/// HMAC-SHA256 (RFC 2104) with its two keyed SHA-256 states computed once.
///
/// After `init`, the inner and outer states have absorbed `K0 ^ ipad` and
/// `K0 ^ opad`; authenticating a short message then costs two SHA-256
/// compressions (one more if the message is 56 bytes or longer) and no
/// allocation. The SHA-256 compression function is OpenSSL's
/// (`SHA256_Transform`, with SHA-NI where the CPU has it); written here are
/// only RFC 2104's key schedule and, for messages that fit one block, the
/// fixed FIPS 180-4 padding. Tests compare the result with OpenSSL's `HMAC()`
/// for every message length from 0 to 150 bytes. The state is key material:
/// the owner wipes it.
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
        if first.count + second.count <= Self.singleBlockCapacity {
            authenticateShort(first, second, into: tag)
        } else {
            authenticateLong(first, second, into: tag)
        }
    }

    /// A message of up to 55 bytes fits, with its padding, in the one block
    /// after the key block: each hash is then a single `SHA256_Transform`
    /// (one compression) on a block laid out as FIPS 180-4 §5.1.1 pads it.
    static let singleBlockCapacity = blockSize - 9

    @inline(__always)
    private func authenticateShort(
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        into tag: UnsafeMutableRawPointer
    ) {
        let length = first.count + second.count
        var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &block) { block in
            let base = block.baseAddress!
            if first.count > 0 { base.copyMemory(from: first.baseAddress!, byteCount: first.count) }
            if second.count > 0 { (base + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
            base.storeBytes(of: 0x80, toByteOffset: length, as: UInt8.self)
            // Bit length of ipad block + message, big-endian, in the last 8 bytes.
            base.storeBytes(of: UInt64((Self.blockSize + length) * 8).bigEndian, toByteOffset: 56, as: UInt64.self)
            var context = inner
            SHA256_Transform(&context, base.assumingMemoryBound(to: UInt8.self))

            // The outer block: the inner digest, 0x80, zeros, and the bit length 768.
            block.initializeMemory(as: UInt8.self, repeating: 0)
            Self.storeDigest(of: &context, into: base)
            base.storeBytes(of: 0x80, toByteOffset: Self.tagSize, as: UInt8.self)
            base.storeBytes(of: UInt64((Self.blockSize + Self.tagSize) * 8).bigEndian, toByteOffset: 56, as: UInt64.self)
            context = outer
            SHA256_Transform(&context, base.assumingMemoryBound(to: UInt8.self))
            Self.storeDigest(of: &context, into: tag)
        }
    }

    /// The chaining value `h[0..7]` as the big-endian digest bytes.
    @inline(__always)
    private static func storeDigest(of context: inout SHA256_CTX, into output: UnsafeMutableRawPointer) {
        withUnsafeBytes(of: &context.h) { words in
            for index in 0..<8 {
                let word = words.load(fromByteOffset: 4 * index, as: UInt32.self)
                output.storeBytes(of: word.bigEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
        }
    }

    /// Longer messages go through OpenSSL's own buffering and padding.
    private func authenticateLong(
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
