/// Spec §3: RFC 4226 dynamic truncation of a 32-byte tag to a six-digit code,
/// without a secret-dependent branch or memory index.
///
/// The offset `o = T[31] & 0x0F` comes from the tag itself, so reading `T[o]`
/// directly would index memory by a secret. Instead all four candidate
/// 64-bit word pairs are combined under masks and the window is cut out with
/// a shift, which x86-64 and AArch64 execute in constant time.
enum DynamicTruncation {
    @inline(__always)
    static func code(fromTag tag: UnsafeRawPointer) -> DeliveryCode {
        let offset = UInt32(tag.load(fromByteOffset: 31, as: UInt8.self) & 0x0F)
        let wordIndex = offset >> 2
        let byteShift = UInt64(offset & 3)
        var pair: UInt64 = 0
        for k in 0..<4 {
            let high = UInt64(UInt32(bigEndian: tag.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
            let low = UInt64(UInt32(bigEndian: tag.loadUnaligned(fromByteOffset: 4 * k + 4, as: UInt32.self)))
            let mask = 0 &- UInt64(ConstantTime.equalMask(UInt32(k), wordIndex) & 1)
            pair |= (high << 32 | low) & mask
        }
        let window = UInt32(truncatingIfNeeded: pair >> (32 &- 8 &* byteShift))
        return DeliveryCode(unchecked: (window & 0x7FFF_FFFF) % DeliveryCode.modulus)
    }

    /// The same on the tag's big-endian words (word k is `T[4k..<4k+4]`), without storing the tag.
    @inline(__always)
    static func code(fromWords words: HMACSHA256Midstate.TagWords) -> DeliveryCode {
        let offset = words.7 & 0x0F  // T[31] is the low byte of word 7
        let wordIndex = offset >> 2
        let byteShift = UInt64(offset & 3)
        let pairs = (
            UInt64(words.0) << 32 | UInt64(words.1), UInt64(words.1) << 32 | UInt64(words.2),
            UInt64(words.2) << 32 | UInt64(words.3), UInt64(words.3) << 32 | UInt64(words.4)
        )
        var pair = pairs.0 & (0 &- UInt64(ConstantTime.equalMask(0, wordIndex) & 1))
        pair |= pairs.1 & (0 &- UInt64(ConstantTime.equalMask(1, wordIndex) & 1))
        pair |= pairs.2 & (0 &- UInt64(ConstantTime.equalMask(2, wordIndex) & 1))
        pair |= pairs.3 & (0 &- UInt64(ConstantTime.equalMask(3, wordIndex) & 1))
        let window = UInt32(truncatingIfNeeded: pair >> (32 &- 8 &* byteShift))
        return DeliveryCode(unchecked: (window & 0x7FFF_FFFF) % DeliveryCode.modulus)
    }
}
