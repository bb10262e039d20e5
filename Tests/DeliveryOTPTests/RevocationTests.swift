import Foundation
import PropertyBased
import Testing

@testable import DeliveryOTP

/// A revocation changes the revoked key's own dates and no other (review item 3).
@Suite("Revocation touches only the revoked key's dates")
struct RevocationTests {
    static let now = Timestamp(rfc3339: "2024-06-15T10:00:00Z")!
    static let today = try! DeliveryDate("2024-06-15")

    /// Which key, by id, and which day key serve `date`; nil when no key covers it.
    static func serving(_ keyring: Keyring, _ date: DeliveryDate) -> String? {
        guard let (dayKey, keyID) = try? keyring.dayKey(scope: try! Scope("DEPOT-12"), date: date) else { return nil }
        return "\(keyID) \(dayKey.secret.hex)"
    }

    /// A keyring of 1 to 5 keys with random starts within 60 days of today, some revoked.
    static func randomKeyring(_ random: inout some RandomNumberGenerator) -> Keyring {
        var keys: [Keyring.Key] = []
        var starts = Set<Int>()
        for index in 0..<Int.random(in: 1...5, using: &random) {
            let offset = Int.random(in: -60...60, using: &random)
            let revoked = Bool.random(using: &random) && Int.random(in: 0..<4, using: &random) == 0
            if !revoked && !starts.insert(offset).inserted { continue }
            let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
            keys.append(
                Keyring.Key(
                    id: try! KeyID("k-\(index)"), secret: SecretKey(copying: secret),
                    activeFrom: today.adding(days: offset)!, createdAt: nil,
                    revokedAt: revoked ? Timestamp(secondsSinceEpoch: 0) : nil))
        }
        return try! Keyring(keys: keys)
    }

    @Test("on random keyrings, exactly the dates the revocation reports change, within 60 days either side of today")
    func onlyTheRevokedKeysDatesChange() async {
        await propertyCheck(count: 400, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = ManifestDifferentialTests.SeededGenerator(state: UInt64(seed))
            let keyring = Self.randomKeyring(&random)
            let candidates = keyring.keys.filter { !$0.isRevoked }
            guard let target = candidates.randomElement(using: &random) else { return }
            let replacementFrom =
                Bool.random(using: &random)
                ? Self.today.adding(days: Int.random(in: -70...70, using: &random)) : nil
            let allowPast = Bool.random(using: &random)
            let revocation: Keyring.Revocation
            do {
                revocation = try keyring.revoking(
                    id: target.id, replacementFrom: replacementFrom, today: Self.today,
                    now: Self.now, allowPast: allowPast)
            } catch {
                // A refused revocation changes nothing; the refusals are tested one by one below.
                return
            }
            var changed: [DeliveryDate] = []
            for offset in -120...120 {
                let date = Self.today.adding(days: offset)!
                if Self.serving(keyring, date) != Self.serving(revocation.keyring, date) { changed.append(date) }
                #expect(
                    revocation.changed.contains(date) == (Self.serving(keyring, date) != Self.serving(revocation.keyring, date)),
                    "seed \(seed): \(date), reported \(revocation.changed)")
                // The reported split is exact too: from today on, and what falls back to the key before.
                #expect((revocation.changedFromToday?.contains(date) ?? false) == (revocation.changed.contains(date) && date >= Self.today))
                let usesFallback = revocation.fallbackDates?.contains(date) ?? false
                let servedBy = (try? revocation.keyring.key(for: date))?.id
                if usesFallback { #expect(servedBy == revocation.fallback?.id) }
                if revocation.changed.contains(date) && !usesFallback { #expect(servedBy == revocation.replacement?.id) }
            }
            // Nothing changes before the revoked key's start, and the key itself is kept, marked revoked.
            #expect(changed.allSatisfy { $0 >= target.activeFrom })
            #expect(revocation.keyring.keys.first { $0.id == target.id }?.isRevoked == true)
        }
    }

    static let twoKeys = try! Keyring(keys: [
        Keyring.Key(
            id: try! KeyID("k-old"), secret: SecretKey(copying: [UInt8](repeating: 1, count: 32)),
            activeFrom: try! DeliveryDate("2024-01-01"), createdAt: nil),
        Keyring.Key(
            id: try! KeyID("k-new"), secret: SecretKey(copying: [UInt8](repeating: 2, count: 32)),
            activeFrom: try! DeliveryDate("2024-02-01"), createdAt: nil),
    ])

    @Test("revoking a key superseded before today adds no replacement and leaves today's key alone")
    func supersededKeyNeedsNoReplacement() throws {
        let revocation = try Self.twoKeys.revoking(
            id: try KeyID("k-old"), replacementFrom: nil, today: Self.today,
            now: Self.now, allowPast: false)
        #expect(revocation.replacement == nil)
        #expect(revocation.changedFromToday == nil)
        #expect(revocation.changed == .init(first: try DeliveryDate("2024-01-01"), last: try DeliveryDate("2024-01-31")))
        #expect(try revocation.keyring.key(for: Self.today).id == KeyID("k-new"))
    }

    @Test("a replacement date before the revoked key's start or on the next key's start is refused")
    func replacementOutsideTheKeysDates() throws {
        #expect(throws: KeyringLifecycleError.self) {
            try Self.twoKeys.revoking(
                id: try KeyID("k-new"), replacementFrom: try DeliveryDate("2024-01-20"),
                today: Self.today, now: Self.now, allowPast: true)
        }
        #expect(throws: KeyringLifecycleError.self) {
            try Self.twoKeys.revoking(
                id: try KeyID("k-old"), replacementFrom: try DeliveryDate("2024-02-01"),
                today: Self.today, now: Self.now, allowPast: true)
        }
    }
}
