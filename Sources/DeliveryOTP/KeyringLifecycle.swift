/// The security team's operations on a keyring: each returns a new, valid
/// keyring and never deletes a key (revoked and superseded keys stay for audit).
extension Keyring {
    /// Where a key stands on a given day.
    public enum KeyStatus: String, Sendable {
        /// Starts after today.
        case scheduled
        /// The key for today.
        case active
        /// Started on or before today, but a later key has taken over.
        case superseded
        /// Never used again.
        case revoked
    }

    public func status(of key: Key, today: DeliveryDate) -> KeyStatus {
        if key.isRevoked { return .revoked }
        if key.activeFrom > today { return .scheduled }
        return (try? self.key(for: today))?.id == key.id ? .active : .superseded
    }

    /// The date the next unrevoked key takes over from `key` (exclusive end of its range); nil when open-ended.
    public func successorStart(of key: Key) -> DeliveryDate? {
        keys.filter { !$0.isRevoked && $0.activeFrom > key.activeFrom }.map(\.activeFrom).min()
    }

    /// Dates in `from ..< from + days` that no key covers.
    public func uncoveredDates(from start: DeliveryDate, days: Int) -> [DeliveryDate] {
        (0..<days).compactMap { start.adding(days: $0) }.filter { (try? key(for: $0)) == nil }
    }

    /// A fresh 32-byte key from the CSPRNG, with an id `k-YYYY-MM-DD-xxxx` that is unique here.
    public func newKey(activeFrom: DeliveryDate, now: Timestamp) throws(RandomSourceError) -> Key {
        let secret = try SecretKey.generate(byteCount: 32)
        var id: KeyID
        repeat {
            let suffix = try SecureRandom.bytes(count: 2).map { byte in
                let digits = Array("0123456789abcdef")
                return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            }.joined()
            id = try! KeyID("k-\(activeFrom)-\(suffix)")
        } while keys.contains { $0.id == id }
        return Key(id: id, secret: secret, activeFrom: activeFrom, createdAt: now)
    }

    /// A new keyring with a first key.
    public static func initial(activeFrom: DeliveryDate, now: Timestamp) throws(RandomSourceError) -> (Keyring, Key) {
        let empty = Keyring(unchecked: [])
        let key = try empty.newKey(activeFrom: activeFrom, now: now)
        return (Keyring(unchecked: [key]), key)
    }

    /// Adds a key that takes over from `activeFrom`. Earlier dates keep their keys, so
    /// codes already sent stay valid. Refuses a date on which an unrevoked key
    /// starts, and (unless `allowPast`) a date before today.
    public func rotating(activeFrom: DeliveryDate, today: DeliveryDate, now: Timestamp, allowPast: Bool)
        throws(KeyringLifecycleError) -> (Keyring, Key) {
        if let existing = keys.first(where: { !$0.isRevoked && $0.activeFrom == activeFrom }) {
            throw .keyring(.activeFromTaken(activeFrom, existing.id))
        }
        if activeFrom < today && !allowPast { throw .keyring(.dateInPast(activeFrom, today: today)) }
        let key: Key
        do { key = try newKey(activeFrom: activeFrom, now: now) } catch { throw .random(error) }
        return (Keyring(unchecked: keys + [key], isExample: isExample), key)
    }

    /// The result of a revocation.
    public struct Revocation: Sendable {
        public let keyring: Keyring
        public let revoked: Key
        public let replacement: Key
        /// The first and last date (inclusive; nil last means open-ended) from today on
        /// whose codes came from the revoked key and must be sent again. Nil when none.
        public let affected: (first: DeliveryDate, last: DeliveryDate?)?
    }

    /// Revokes `id` and adds a fresh replacement active from `replacementFrom` in one step.
    ///
    /// The default replacement date is today, or the revoked key's own start when that
    /// is later (revoking a scheduled key must not cut short the key before it). A
    /// later replacement would leave dates without a key and is refused.
    public func revoking(id: KeyID, replacementFrom: DeliveryDate?, today: DeliveryDate, now: Timestamp, allowPast: Bool)
        throws(KeyringLifecycleError) -> Revocation {
        guard let index = keys.firstIndex(where: { $0.id == id }) else { throw .keyring(.unknownKeyID(id)) }
        let target = keys[index]
        if target.isRevoked { throw .keyring(.alreadyRevoked(id)) }
        let latest = max(today, target.activeFrom)
        let start = replacementFrom ?? latest
        if start > latest { throw .keyring(.replacementTooLate(start, latest: latest)) }
        if start < today && !allowPast { throw .keyring(.dateInPast(start, today: today)) }
        if let existing = keys.first(where: { !$0.isRevoked && $0.id != id && $0.activeFrom == start }) {
            throw .keyring(.activeFromTaken(start, existing.id))
        }

        let end = successorStart(of: target)  // exclusive
        var affected: (DeliveryDate, DeliveryDate?)?
        if end.map({ $0 > latest }) ?? true {
            affected = (latest, end?.adding(days: -1))
        }

        var updated = keys
        updated[index] = Key(id: target.id, secret: target.secret, activeFrom: target.activeFrom,
                             createdAt: target.createdAt, revokedAt: now)
        let replacement: Key
        do { replacement = try Keyring(unchecked: updated).newKey(activeFrom: start, now: now) } catch { throw .random(error) }
        let keyring = Keyring(unchecked: updated + [replacement], isExample: isExample)
        return Revocation(keyring: keyring, revoked: updated[index], replacement: replacement, affected: affected)
    }

    /// Problems that `keys check` reports; empty when the keyring is fit for use.
    public func problems(today: DeliveryDate, horizon days: Int = 31) -> [String] {
        var found: [String] = []
        let uncovered = uncoveredDates(from: today, days: days)
        if let first = uncovered.first {
            found.append("\(uncovered.count) of the next \(days) days have no key, the first is \(first)")
        }
        return found
    }

    /// For operations that keep the invariants by construction.
    init(unchecked keys: [Key], isExample: Bool = false) {
        self.keys = keys
        self.isExample = isExample
    }
}

/// A lifecycle operation that could not be done; nothing was changed.
public enum KeyringLifecycleError: Error, Sendable {
    case keyring(KeyringError)
    case random(RandomSourceError)
}
