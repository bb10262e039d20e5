import DeliveryOTP

/// A new bearer token: `dotp_` and 43 base64url characters carrying 256 random bits from
/// OpenSSL's CSPRNG. The prefix makes a leaked token easy to recognise (secret scanners, logs).
///
/// The token is shown once; only its SHA-256 digest is stored (``TokenEntry/digest``).
package struct BearerToken: Sendable {
    /// The prefix of every token.
    package static let prefix = "dotp_"
    /// The length of a token in characters.
    package static let length = prefix.count + 43

    /// The token text, to be printed once and never stored.
    package let text: String

    /// A new random token.
    package static func generate() throws(RandomSourceError) -> BearerToken {
        var bytes = [UInt8](repeating: 0, count: 32)
        defer { SecretBuffer.wipe(&bytes) }
        let filled = bytes.withUnsafeMutableBytes { buffer in (try? SecureRandom.fill(buffer)) != nil }
        guard filled else { throw RandomSourceError() }
        return BearerToken(text: prefix + Base64URL.encode(bytes))
    }

    /// The digest the tokens file keeps.
    package var digest: [UInt8] { SHA256Digest.hash(text) }

    /// The credentials of an `Authorization` header whose scheme is Bearer, or nil for any other
    /// header. The scheme's name is matched without regard to case and may be followed by more than
    /// one space (RFC 9110 §11.4, RFC 6750 §2.1): `bearer dotp_…` from a client that writes it in
    /// lower case is the same token, not an unauthenticated request.
    package static func credentials(inAuthorization header: String) -> Substring? {
        let scheme = "bearer"
        let text = Substring(header)
        guard text.utf8.count > scheme.utf8.count,
            zip(text.utf8, scheme.utf8).allSatisfy({ $0 | 0x20 == $1 }),
            text.utf8.dropFirst(scheme.utf8.count).first == UInt8(ascii: " ")
        else { return nil }
        return text.dropFirst(scheme.count).drop { $0 == " " }
    }

    /// Whether `text` has the shape of a token (the prefix, the length, base64url characters).
    /// Only the shape: whether it is a known token is the table's question.
    package static func isWellFormed(_ text: Substring) -> Bool {
        text.utf8.count == length && text.hasPrefix(prefix)
            && text.utf8.dropFirst(prefix.utf8.count).allSatisfy { Base64URL.isAlphabet($0) }
    }
}

/// Base64url without padding (RFC 4648 §5), for tokens.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(value >> UInt32(shift) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            var value = UInt32(bytes[index]) << 16
            if rest == 2 { value |= UInt32(bytes[index + 1]) << 8 }
            let shifts = rest == 1 ? [18, 12] : [18, 12, 6]
            for shift in shifts { out.append(alphabet[Int(value >> UInt32(shift) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isAlphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}
