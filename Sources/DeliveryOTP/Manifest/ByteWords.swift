/// Eight bytes at a time ("SIMD within a register") for the manifest's hot
/// loop: finding separators, checking IDs and copying short texts without a
/// libc call per field. Loads may read past the bytes they are given (up to 7
/// bytes; `copy` up to 15), so callers pass pointers into buffers with at
/// least ``ByteBuffer/slack`` spare bytes after their contents.
enum ByteWords {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080
    static let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The high bit of each byte of `word` that is zero; exact, with no false
    /// positives from borrows (the carry cannot leave a byte: each is at most 0x7F + 0x7F).
    @inline(__always)
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        ~(((word & lowBits) &+ lowBits) | word | lowBits)
    }

    /// The high bit of each byte of `word` that equals `byte`.
    @inline(__always)
    static func bytes(_ word: UInt64, equalTo byte: UInt8) -> UInt64 {
        zeroBytes(word ^ (ones &* UInt64(byte)))
    }

    /// The little-endian word at `pointer`.
    @inline(__always)
    static func load(_ pointer: UnsafeRawPointer) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
    }

    /// The first `count` bytes (0 to 8) of the word at `pointer`, the rest zero.
    @inline(__always)
    static func load(_ pointer: UnsafeRawPointer, count: Int) -> UInt64 {
        count >= 8 ? load(pointer) : (count <= 0 ? 0 : load(pointer) & ((1 &<< UInt64(count &* 8)) &- 1))
    }

    /// Whether every one of the `count` bytes at `pointer` is printable ASCII,
    /// 0x21 to 0x7E: the rule of ``ShipmentID/isValid(bytes:)``, which checks
    /// any buffer byte by byte; this one needs the manifest's padded buffers.
    @inline(__always)
    static func isPrintable(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        var offset = 0, bad: UInt64 = 0
        while offset < count {
            var word = load(pointer + offset)
            if count - offset < 8 {
                // Past the end, substitute a valid byte ("A").
                let kept = (1 &<< UInt64((count - offset) &* 8)) &- 1
                word = (word & kept) | (0x4141_4141_4141_4141 & ~kept)
            }
            // A byte below 0x21, or above 0x7E (0x7F and everything with the high bit).
            bad |= (word &- ones &* 0x21) & ~word & highBits
            bad |= ((word & lowBits) &+ ones &* 0x01) | word
            offset += 8
        }
        return bad & highBits == 0
    }

    /// Whether the `count` bytes at `pointer` are all below 0x80.
    @inline(__always)
    static func isASCII(_ pointer: UnsafeRawPointer, count: Int) -> Bool {
        var offset = 0, seen: UInt64 = 0
        while offset < count {
            seen |= load(pointer + offset, count: count - offset)
            offset += 8
        }
        return seen & highBits == 0
    }

    /// Copies `count` bytes in 16-byte pieces: may write up to 15 bytes past
    /// `count` at `destination`, and read as many past `source`.
    @inline(__always)
    static func copy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, count: Int) {
        var offset = 0
        while offset < count {
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self),
                toByteOffset: offset, as: SIMD16<UInt8>.self)
            offset += 16
        }
    }
}
