/// A short public name for a secret, so two people can check they hold the
/// same key without showing it (SPEC.md §6):
/// `HKDF-SHA256(IKM = K, salt = empty, info = "delivery-otp/v1/fingerprint", L = 8)`,
/// written as four groups of four hex digits, e.g. `3f2a-91bc-0d4e-7a55`.
public struct KeyFingerprint: Hashable, Sendable, CustomStringConvertible {
    static let info = Array("delivery-otp/v1/fingerprint".utf8)
    /// The fingerprint as four groups of four hex digits, e.g. `3f2a-91bc-0d4e-7a55`.
    public let description: String

    /// Computes the fingerprint of `secret` (SPEC.md §6).
    public init(of secret: SecretKey) {
        var bytes = [UInt8](repeating: 0, count: 8)
        secret.withUnsafeBytes { ikm in
            Self.info.withUnsafeBytes { info in
                bytes.withUnsafeMutableBytes { output in
                    HKDF.deriveSHA256(ikm: ikm, salt: UnsafeRawBufferPointer(start: nil, count: 0), info: info, into: output)
                }
            }
        }
        let hex = bytes.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }
        description = stride(from: 0, to: 8, by: 2).map { hex[$0] + hex[$0 + 1] }.joined(separator: "-")
    }
}
