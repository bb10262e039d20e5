/// The key for one scope and one delivery date (spec §1):
/// `Kd = HKDF-SHA256(IKM = K, salt = empty, info = "delivery-otp/v1/day-key" || 0x00 || S || 0x00 || D, L = 32)`.
///
/// Courier devices hold day keys, never master secrets, so a lost device
/// exposes one scope's codes for the days it was given.
public struct DayKey: Sendable {
    /// The length of a day key in bytes: 32.
    public static let byteCount = 32
    static let infoPrefix: [UInt8] = Array("delivery-otp/v1/day-key".utf8)

    /// The scope this key makes codes for.
    public let scope: Scope
    /// The delivery date this key makes codes for.
    public let date: DeliveryDate
    /// The 32-byte `Kd`. Only `keys export-device` should ever write it out.
    public let secret: SecretKey

    /// Derives the day key from a master secret (spec §1).
    public init(masterSecret: SecretKey, scope: Scope, date: DeliveryDate) {
        let info = Self.info(scope: scope, date: date)
        self.scope = scope
        self.date = date
        self.secret = SecretKey(filling: Self.byteCount) { output in
            masterSecret.withUnsafeBytes { ikm in
                info.withUnsafeBytes { info in
                    HKDF.deriveSHA256(ikm: ikm, salt: UnsafeRawBufferPointer(start: nil, count: 0), info: info, into: output)
                }
            }
        }
    }

    /// A day key received from elsewhere (a device-key file); it must be 32 bytes.
    public init(secret: SecretKey, scope: Scope, date: DeliveryDate) throws(DayKeyError) {
        guard secret.byteCount == Self.byteCount else {
            throw DayKeyError(date: date, byteCount: secret.byteCount)
        }
        self.scope = scope
        self.date = date
        self.secret = secret
    }

    /// `"delivery-otp/v1/day-key" || 0x00 || S || 0x00 || D`.
    static func info(scope: Scope, date: DeliveryDate) -> [UInt8] {
        infoPrefix + [0] + Array(scope.rawValue.utf8) + [0] + date.asciiBytes
    }
}

/// A day key of the wrong length.
public struct DayKeyError: DeliveryOTPError, Hashable {
    /// The date of the day key that was refused.
    public let date: DeliveryDate
    /// The length of the refused secret, in bytes (not 32).
    public let byteCount: Int
    /// Names the date and the wrong length.
    public var description: String {
        "the day key for \(date) is \(byteCount) bytes; day keys are exactly \(DayKey.byteCount) bytes"
    }
}
