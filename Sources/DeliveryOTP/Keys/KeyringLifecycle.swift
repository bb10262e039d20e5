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

    /// Where `key` stands on `today`: revoked, scheduled, the active key, or superseded by a later one.
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
    /// starts, (unless `allowPast`) a date before today, and an example keyring.
    public func rotating(activeFrom: DeliveryDate, today: DeliveryDate, now: Timestamp, allowPast: Bool)
        throws(KeyringLifecycleError) -> (Keyring, Key)
    {
        if isExample { throw .keyring(.exampleKeyring) }
        if let existing = keys.first(where: { !$0.isRevoked && $0.activeFrom == activeFrom }) {
            throw .keyring(.activeFromTaken(activeFrom, existing.id))
        }
        if activeFrom < today && !allowPast { throw .keyring(.dateInPast(activeFrom, today: today)) }
        let key: Key
        do { key = try newKey(activeFrom: activeFrom, now: now) } catch { throw .random(error) }
        return (Keyring(unchecked: keys + [key], isExample: isExample), key)
    }

    /// A run of consecutive dates, `first` to `last` inclusive; a nil `last` is open-ended.
    public struct DateSpan: Sendable, Hashable, CustomStringConvertible {
        /// The first date of the span.
        public let first: DeliveryDate
        /// The last date of the span, inclusive; nil when the span is open-ended.
        public let last: DeliveryDate?

        /// The span from `first` to `last` inclusive; a nil `last` makes it open-ended.
        public init(first: DeliveryDate, last: DeliveryDate?) {
            self.first = first
            self.last = last
        }

        /// The dates from `start` up to, not including, `end` (nil: open-ended); nil when that is empty.
        static func from(_ start: DeliveryDate, until end: DeliveryDate?) -> DateSpan? {
            if let end, end <= start { return nil }
            return DateSpan(first: start, last: end?.adding(days: -1))
        }

        /// True when `date` is from ``first`` to ``last`` inclusive, or from ``first`` on when open-ended.
        public func contains(_ date: DeliveryDate) -> Bool { date >= first && last.map { date <= $0 } ?? true }

        /// `2024-03-10 to 2024-03-14`, `2024-03-10`, or `2024-03-10 onwards`.
        public var description: String {
            guard let last else { return "\(first) onwards" }
            return last == first ? first.description : "\(first) to \(last)"
        }
    }

    /// The result of a revocation.
    public struct Revocation: Sendable {
        /// The new keyring: the key marked revoked, plus the replacement when there is one.
        public let keyring: Keyring
        /// The revoked key, with its ``Keyring/Key/revokedAt`` set.
        public let revoked: Key
        /// The fresh key that takes over the revoked key's dates from its `activeFrom`; nil when
        /// the revoked key no longer served today or a later date, so nothing needs replacing.
        public let replacement: Key?
        /// Every date whose code changed: exactly the revoked key's own dates. Those from
        /// the replacement's start on use the replacement; earlier ones fall back to ``fallback``.
        public let changed: DateSpan
        /// The changed dates from today on, whose codes must be sent again; nil when none.
        public let changedFromToday: DateSpan?
        /// The changed dates before the replacement's start (all of them without a replacement),
        /// which now use ``fallback`` (or no key); nil when none.
        public let fallbackDates: DateSpan?
        /// The key that serves ``fallbackDates``: the unrevoked key that started last before the revoked one.
        public let fallback: Key?
    }

    /// Revokes `id` and, when it still serves today or a later date, adds a fresh
    /// replacement active from `replacementFrom` in one step.
    ///
    /// Only the revoked key's own dates change (its `activeFrom` up to the next
    /// unrevoked key's start). The default replacement date is today, or the revoked
    /// key's own start when that is later. A replacement date before the key's start
    /// (it would take dates from the key before), on or after the next key's start (it
    /// would take that key's dates), or after the default (it would leave the revoked
    /// key's dates from today to the key before) is refused.
    public func revoking(id: KeyID, replacementFrom: DeliveryDate?, today: DeliveryDate, now: Timestamp, allowPast: Bool)
        throws(KeyringLifecycleError) -> Revocation
    {
        if isExample { throw .keyring(.exampleKeyring) }
        guard let index = keys.firstIndex(where: { $0.id == id }) else { throw .keyring(.unknownKeyID(id)) }
        let target = keys[index]
        if target.isRevoked { throw .keyring(.alreadyRevoked(id)) }
        let end = successorStart(of: target)  // exclusive
        let latest = max(today, target.activeFrom)
        let start: DeliveryDate?
        if let replacementFrom {
            if replacementFrom < target.activeFrom {
                throw .keyring(.replacementBeforeKey(replacementFrom, keyStart: target.activeFrom))
            }
            if let end, replacementFrom >= end { throw .keyring(.replacementAfterKey(replacementFrom, nextStart: end)) }
            if replacementFrom > latest { throw .keyring(.replacementTooLate(replacementFrom, latest: latest)) }
            if replacementFrom < today && !allowPast { throw .keyring(.dateInPast(replacementFrom, today: today)) }
            start = replacementFrom
        } else {
            // A key superseded before today serves no date from today on: nothing to replace.
            start = end.map { $0 > latest } ?? true ? latest : nil
        }
        if let start, let existing = keys.first(where: { !$0.isRevoked && $0.id != id && $0.activeFrom == start }) {
            throw .keyring(.activeFromTaken(start, existing.id))
        }

        var updated = keys
        updated[index] = Key(
            id: target.id, secret: target.secret, activeFrom: target.activeFrom,
            createdAt: target.createdAt, revokedAt: now)
        var replacement: Key?
        if let start {
            do { replacement = try Keyring(unchecked: updated).newKey(activeFrom: start, now: now) } catch { throw .random(error) }
        }
        let fallback = updated.filter { !$0.isRevoked && $0.activeFrom < target.activeFrom }.max { $0.activeFrom < $1.activeFrom }
        return Revocation(
            keyring: Keyring(unchecked: updated + (replacement.map { [$0] } ?? []), isExample: isExample),
            revoked: updated[index], replacement: replacement,
            changed: DateSpan(first: target.activeFrom, last: end?.adding(days: -1)),
            changedFromToday: DateSpan.from(max(today, target.activeFrom), until: end),
            fallbackDates: DateSpan.from(target.activeFrom, until: start ?? end),
            fallback: fallback)
    }

    /// Problems that `keys check` reports; empty when the keyring is fit for use.
    public func problems(today: DeliveryDate, horizon days: Int = 31) -> [String] {
        var found: [String] = []
        if isExample {
            found.append("the keyring holds the published example keys (\"example\": true): anyone can compute its codes")
        }
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
public enum KeyringLifecycleError: DeliveryOTPError {
    /// The change is not allowed (a date in the past, a taken start date, an unknown key, ...).
    case keyring(KeyringError)
    /// The system's random source failed while generating a new key.
    case random(RandomSourceError)

    /// One line for a person.
    public var description: String {
        switch self {
        case .keyring(let error): error.description
        case .random(let error): error.description
        }
    }

    /// How to fix it.
    public var hint: String? {
        switch self {
        case .keyring(let error): error.hint
        case .random: nil
        }
    }
}
