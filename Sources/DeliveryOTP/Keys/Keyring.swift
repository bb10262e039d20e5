#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The security team's master keys, each active from a date until the next
/// one takes over (SPEC.md, "Keyring file" and "Key selection").
///
/// A `Keyring` value is always valid: ids are unique, secrets are 16 to 64
/// bytes, and no two unrevoked keys start on the same date.
public struct Keyring: Sendable {
    /// One master key and its schedule.
    public struct Key: Sendable {
        /// The key's id, unique in the keyring.
        public let id: KeyID
        /// The master secret `K`, 16 to 64 bytes.
        public let secret: SecretKey
        /// The first date the key is used for, until a later unrevoked key takes over.
        public let activeFrom: DeliveryDate
        /// When the key was made; nil when that is not known (the field is optional in the file).
        public let createdAt: Timestamp?
        /// When the key was revoked; nil while it is not.
        public let revokedAt: Timestamp?

        /// The lengths a master secret may have, in bytes: 16 to 64.
        public static let secretLengths = 16...64

        /// A key from its parts; ``Keyring/init(keys:isExample:)`` checks the secret's length and that ids are unique.
        public init(
            id: KeyID, secret: SecretKey, activeFrom: DeliveryDate,
            createdAt: Timestamp?, revokedAt: Timestamp? = nil
        ) {
            self.id = id
            self.secret = secret
            self.activeFrom = activeFrom
            self.createdAt = createdAt
            self.revokedAt = revokedAt
        }

        /// True when the key has been revoked (``revokedAt`` is set).
        public var isRevoked: Bool { revokedAt != nil }
    }

    /// The keys in file order, revoked ones included (they are kept for audit).
    public internal(set) var keys: [Key]
    /// True for files marked `"example": true`, which must never be used in production.
    public internal(set) var isExample: Bool

    /// A keyring of `keys`, kept in this order. Throws ``KeyringError/noKeys`` for none,
    /// ``KeyringError/duplicateKeyID(_:)`` for a repeated id, ``KeyringError/invalidField(path:reason:)`` for a secret
    /// not 16 to 64 bytes, and ``KeyringError/conflictingActiveFrom(_:_:_:)`` for two unrevoked keys on one date.
    public init(keys: [Key], isExample: Bool = false) throws(KeyringError) {
        guard !keys.isEmpty else { throw .noKeys }
        var seenIDs = Set<KeyID>()
        var startOwners: [DeliveryDate: KeyID] = [:]
        for key in keys {
            guard seenIDs.insert(key.id).inserted else { throw .duplicateKeyID(key.id) }
            guard Key.secretLengths.contains(key.secret.byteCount) else {
                throw .invalidField(
                    path: "key \(key.id)",
                    reason: "secret is \(key.secret.byteCount) bytes; master secrets are 16 to 64 bytes")
            }
            if !key.isRevoked {
                if let other = startOwners[key.activeFrom] {
                    throw .conflictingActiveFrom(key.activeFrom, other, key.id)
                }
                startOwners[key.activeFrom] = key.id
            }
        }
        self.keys = keys
        self.isExample = isExample
    }

    /// Parses and validates keyring format v1 (plaintext) in place.
    init(parsing bytes: UnsafeRawBufferPointer) throws(KeyringError) {
        let document = try KeyringDocument.decode(bytes)
        var keys: [Key] = []
        for (index, record) in document.keys.enumerated() {
            keys.append(try Self.key(from: record, at: "keys[\(index)]"))
        }
        // The published example secrets count as example keys even where the flag was removed.
        let published = keys.contains { key in Self.publishedExampleSecrets.contains { $0 == key.secret } }
        try self.init(keys: keys, isExample: (document.example ?? false) || published)
    }

    /// The secrets of `keys-example/keyring.json`, known to everyone: "EXAMPLE-ONLY key N: never use in".
    static let publishedExampleSecrets: [SecretKey] = ["1", "2"].map { number in
        SecretKey(copying: "EXAMPLE-ONLY key \(number): never use in".utf8)
    }

    /// The key for `date`: among unrevoked keys active on or before it, the one
    /// that started last. Never falls back to a later key.
    public func key(for date: DeliveryDate) throws(KeyringError) -> Key {
        var best: Key?
        for key in keys where !key.isRevoked && key.activeFrom <= date {
            if best == nil || key.activeFrom > best!.activeFrom { best = key }
        }
        guard let best else { throw .noKeyCovers(date) }
        return best
    }

    /// The day key for `scope` and `date` (spec §1) and the id of the master key it came from.
    public func dayKey(scope: Scope, date: DeliveryDate) throws(KeyringError) -> (dayKey: DayKey, keyID: KeyID) {
        let key = try key(for: date)
        return (DayKey(masterSecret: key.secret, scope: scope, date: date), key.id)
    }

    private static func key(from record: KeyringDocument.Record, at path: String) throws(KeyringError) -> Key {
        let id: KeyID
        do { id = try KeyID(record.id) } catch {
            throw .invalidField(path: "\(path).id", reason: error.description)
        }
        let label = "\(path) (\(id))"
        let activeFrom: DeliveryDate
        do { activeFrom = try DeliveryDate(record.activeFrom) } catch {
            throw .invalidField(path: "\(label).activeFrom", reason: error.description)
        }
        let createdAt = try record.createdAt.map { (text) throws(KeyringError) -> Timestamp in
            guard let time = Timestamp(rfc3339: text) else {
                throw .invalidField(path: "\(label).createdAt", reason: "not an RFC 3339 time such as 2023-12-20T10:00:00Z")
            }
            return time
        }
        let revokedAt = try record.revokedAt.map { (text) throws(KeyringError) -> Timestamp in
            guard let time = Timestamp(rfc3339: text) else {
                throw .invalidField(path: "\(label).revokedAt", reason: "not an RFC 3339 time such as 2024-03-01T08:00:00Z")
            }
            return time
        }
        let decoded = try CanonicalBase64.withDecoded(record.secret.text) { (bytes) throws(KeyringError) -> SecretKey in
            guard Key.secretLengths.contains(bytes.count) else {
                throw .invalidField(
                    path: "\(label).secret",
                    reason: "the secret is \(bytes.count) bytes; master secrets are 16 to 64 bytes")
            }
            return SecretKey(copying: bytes)
        }
        guard let secret = decoded else {
            throw .invalidField(path: "\(label).secret", reason: "not canonical standard base64 (padded, no spaces, unused bits zero)")
        }
        return Key(id: id, secret: secret, activeFrom: activeFrom, createdAt: createdAt, revokedAt: revokedAt)
    }
}
