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
    private(set) var inner = SHA256_CTX()
    private(set) var outer = SHA256_CTX()

    static let blockSize = 64
    static let tagSize = 32

    init(key: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: Self.blockSize, alignment: 16) { block in
            block.initializeMemory(as: UInt8.self, repeating: 0)
            if key.count > Self.blockSize {
                // RFC 2104: keys longer than the block are hashed first.
                _ = SHA256(
                    key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count,
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
    ///
    /// Static over a pointer so that the 224-byte state is read in place, never copied.
    @inline(__always)
    static func authenticate(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        into tag: UnsafeMutableRawPointer
    ) {
        if first.count + second.count <= singleBlockCapacity {
            storeWords(authenticateShort(state, first, second), into: tag)
        } else {
            state.pointee.authenticateLong(first, second, into: tag)
        }
    }

    /// Two tags; see ``authenticateShortPair(_:_:_:_:)``. Falls back to one at a time for long messages.
    @inline(__always)
    static func authenticatePair(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        _ firstA: UnsafeRawBufferPointer, _ firstB: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        into tagA: UnsafeMutableRawPointer, _ tagB: UnsafeMutableRawPointer
    ) {
        guard max(firstA.count, firstB.count) + second.count <= singleBlockCapacity else {
            authenticate(state, firstA, second, into: tagA)
            authenticate(state, firstB, second, into: tagB)
            return
        }
        let (a, b) = authenticateShortPair(state, firstA, firstB, second)
        storeWords(a, into: tagA)
        storeWords(b, into: tagB)
    }

    /// The tag bytes from its words.
    @inline(__always)
    static func storeWords(_ words: TagWords, into output: UnsafeMutableRawPointer) {
        output.storeBytes(
            of: SIMD4(words.0.bigEndian, words.1.bigEndian, words.2.bigEndian, words.3.bigEndian),
            toByteOffset: 0, as: SIMD4<UInt32>.self)
        output.storeBytes(
            of: SIMD4(words.4.bigEndian, words.5.bigEndian, words.6.bigEndian, words.7.bigEndian),
            toByteOffset: 16, as: SIMD4<UInt32>.self)
    }

    /// A message of up to 55 bytes fits, with its padding, in the one block
    /// after the key block: each hash is then a single `SHA256_Transform`
    /// (one compression) on a block laid out as FIPS 180-4 §5.1.1 pads it.
    static let singleBlockCapacity = blockSize - 9

    /// 64 bytes, zeroed.
    private typealias Block = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Inner hash of a short message: `context.h` ends as the inner digest's chaining value.
    @inline(__always)
    private static func innerHash(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        block: UnsafeMutableRawPointer, context: inout SHA256_CTX
    ) {
        let length = first.count + second.count
        if first.count > 0 { block.copyMemory(from: first.baseAddress!, byteCount: first.count) }
        if second.count > 0 { (block + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
        block.storeBytes(of: 0x80, toByteOffset: length, as: UInt8.self)
        // Bit length of ipad block + message, big-endian, in the last 8 bytes.
        block.storeBytes(of: UInt64((blockSize + length) * 8).bigEndian, toByteOffset: 56, as: UInt64.self)
        // SHA256_Transform reads and writes only the chaining value h.
        context.h = state.pointee.inner.h
        SHA256_Transform(&context, block.assumingMemoryBound(to: UInt8.self))
    }

    /// Outer hash over the inner digest in `context.h`; reuses `block`.
    ///
    /// The block is written with four 16-byte stores, the width SHA256_Transform
    /// loads it with, so each load is forwarded from one store instead of
    /// waiting for several narrow ones to reach the cache.
    @inline(__always)
    private static func outerHash(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        block: UnsafeMutableRawPointer, context: inout SHA256_CTX
    ) {
        let h = context.h
        // The inner digest: the chaining value in big-endian byte order.
        block.storeBytes(
            of: SIMD4(h.0.bigEndian, h.1.bigEndian, h.2.bigEndian, h.3.bigEndian), toByteOffset: 0,
            as: SIMD4<UInt32>.self)
        block.storeBytes(
            of: SIMD4(h.4.bigEndian, h.5.bigEndian, h.6.bigEndian, h.7.bigEndian), toByteOffset: 16,
            as: SIMD4<UInt32>.self)
        // 0x80, zeros, and the bit length 768 (0x300) big-endian in bytes 56...63.
        block.storeBytes(of: SIMD4<UInt32>(UInt32(0x80).littleEndian, 0, 0, 0), toByteOffset: 32, as: SIMD4<UInt32>.self)
        block.storeBytes(
            of: SIMD4<UInt32>(0, 0, 0, UInt32(0x0003_0000).littleEndian), toByteOffset: 48,
            as: SIMD4<UInt32>.self)
        context.h = state.pointee.outer.h
        SHA256_Transform(&context, block.assumingMemoryBound(to: UInt8.self))
    }

    /// The tag's eight big-endian 32-bit words: `T[4k..<4k+4]` read as a big-endian `UInt32` is word k.
    typealias TagWords = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// HMAC-SHA256(key, first || second) as words, for messages of up to 55 bytes
    /// (``singleBlockCapacity``); the words feed truncation without a round trip through bytes.
    @inline(__always)
    static func authenticateShort(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer
    ) -> TagWords {
        var block: Block = (0, 0, 0, 0, 0, 0, 0, 0)
        var context = SHA256_CTX()
        withUnsafeMutableBytes(of: &block) { (raw: UnsafeMutableRawBufferPointer) -> Void in
            innerHash(state, first, second, block: raw.baseAddress!, context: &context)
            outerHash(state, block: raw.baseAddress!, context: &context)
        }
        return context.h
    }

    /// Two tags at once, as words; both messages must fit one block. The four
    /// compressions are issued inner, inner, outer, outer, so that each pair
    /// is independent and the CPU can overlap them.
    @inline(__always)
    static func authenticateShortPair(
        _ state: UnsafePointer<HMACSHA256Midstate>,
        _ firstA: UnsafeRawBufferPointer, _ firstB: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer
    ) -> (TagWords, TagWords) {
        var blocks: (Block, Block) = ((0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0))
        var contexts = (SHA256_CTX(), SHA256_CTX())
        withUnsafeMutableBytes(of: &blocks) { (raw: UnsafeMutableRawBufferPointer) -> Void in
            let blockA = raw.baseAddress!, blockB = raw.baseAddress! + blockSize
            innerHash(state, firstA, second, block: blockA, context: &contexts.0)
            innerHash(state, firstB, second, block: blockB, context: &contexts.1)
            outerHash(state, block: blockA, context: &contexts.0)
            outerHash(state, block: blockB, context: &contexts.1)
        }
        return (contexts.0.h, contexts.1.h)
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
