/// One DER element at the start of some bytes: its tag, its contents, and the bytes after it.
///
/// Only what a certificate uses: single-byte tags, definite lengths of up to three bytes (16 MiB,
/// which no certificate reaches, and which fits an `Int` of any platform). Every other form (an
/// indefinite length, a high tag number, a length longer than the bytes) is refused, never
/// guessed at, so that no input can make it read past the end or make a length negative. A
/// length in more bytes than it needs (BER, not DER) is read as its value: the bytes read here are
/// the TLS library's own encoding of a certificate it has parsed, so this is defence in depth.
package struct DERElement {
    /// The identifier octet: class, constructed bit and tag number.
    package let tag: UInt8
    /// The element from its tag to its last content byte.
    package let whole: ArraySlice<UInt8>
    /// The content octets alone.
    package let contents: ArraySlice<UInt8>
    /// The bytes after the element, to the end of the input.
    package let rest: ArraySlice<UInt8>

    /// The element at the start of `bytes`; nil when they do not start with one in the forms above.
    package init?(_ bytes: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        guard index < bytes.endIndex else { return nil }
        let tag = bytes[index]
        guard tag & 0x1F != 0x1F else { return nil }
        index += 1
        guard index < bytes.endIndex else { return nil }
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...3).contains(count), bytes.endIndex - index >= count else { return nil }
            length = 0
            for byte in bytes[index..<index + count] { length = length << 8 | Int(byte) }
            index += count
        }
        guard length <= bytes.endIndex - index else { return nil }
        self.tag = tag
        whole = bytes[bytes.startIndex..<index + length]
        contents = bytes[index..<index + length]
        rest = bytes[(index + length)...]
    }
}
