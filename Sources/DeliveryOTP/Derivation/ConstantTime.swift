/// Branch-free helpers for values derived from secrets.
///
/// Each works on masks (all ones or all zeros) so that neither control flow
/// nor memory addresses depend on secret data; the result becomes a public
/// `Bool` only at the very end.
enum ConstantTime {
    /// `0xFFFF_FFFF` when `a == b`, else 0.
    @inline(__always)
    static func equalMask(_ a: UInt32, _ b: UInt32) -> UInt32 {
        let difference = UInt64(a ^ b)
        // (difference - 1) borrows into the top half only when difference is 0.
        return UInt32(truncatingIfNeeded: (difference &- 1) >> 32)
    }

    @inline(__always)
    static func isEqual(_ a: UInt32, _ b: UInt32) -> Bool {
        equalMask(a, b) & 1 == 1
    }
}
