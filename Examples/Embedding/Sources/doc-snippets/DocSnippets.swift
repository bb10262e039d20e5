// The code shown in the DocC catalog and in README's "Use the library", compiled and
// run in CI (scripts/check-embedding). Each block between `// snippet NAME` and
// `// end snippet` appears verbatim in the documentation; scripts/build-docs checks that
// every Swift block there comes from one of these.
import DeliveryOTP
import DeliveryOTPStore
import Foundation

// snippet door
/// The door on a handheld: an actor owns the verifier; the async verify
/// writes the attempt durably off the actor's executor.
actor Door {
    let verifier: CourierVerifier<SQLiteAttemptStore>

    init(deviceKeys bytes: [UInt8], statePath: String) throws {
        let keys = try DeviceKeys(json: bytes)  // day keys from provisioning, as bytes
        let store = try SQLiteAttemptStore(path: statePath)  // created 0600, synchronous=FULL
        verifier = try CourierVerifier(deviceKeys: keys, store: store)
    }

    func check(_ typed: String, for shipment: ShipmentID) async -> String {
        do {
            switch try await verifier.verify(typed, for: shipment) {
            case .accepted: return "Hand the parcel over"
            case .rejected(let left): return "Wrong code, \(left) tries left"
            case .locked: return "Too many wrong codes: back to the depot"
            case .alreadyAccepted(let time): return "Handed over at \(time)"
            case .notACode: return "Type the six digits"
            }
        } catch {
            switch error {
            case .noKeyForToday: return "Sync the device"
            case .clockMovedBack: return "Set the clock"
            case .store(let failure) where failure.kind == .busy: return "Try again"
            case .store, .attemptLimit, .exampleKeys: return "Call support"
            }
        }
    }
}
// end snippet

@main
struct DocSnippets {
    static func main() async throws {
        let keyringBytes = Array(try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1])))
        let statePath = CommandLine.arguments[2]

        // snippet derive
        let keyring = try Keyring(json: keyringBytes)  // keyring format v1, as bytes
        let date = try DeliveryDate("2024-01-17")
        let (dayKey, keyID) = try keyring.dayKey(scope: try Scope(""), date: date)
        let generator = CodeGenerator(dayKey: dayKey)  // one per scope and date; Sendable
        let shipment = try ShipmentID("TBA123456789000")
        let code = generator.code(for: shipment)  // 208328 with the example keys
        let outcome = generator.verify(typed: "208328", for: shipment)  // .accepted, compared in constant time
        // end snippet
        precondition(code.description == "208328" && outcome == .accepted && keyID.rawValue == "k-2024-01-01-7f3a")

        // snippet lifecycle
        let passphrase = try Passphrase(bytes: Array("from the secrets manager".utf8))
        let zone = try DeliveryTimeZone("Europe/Berlin")
        let today = zone.date(at: .now)

        // A new keyring, kept only as sealed bytes (scrypt and AES-256-GCM).
        let (first, _) = try Keyring.initial(activeFrom: today, now: .now)
        let sealed = try first.sealed(passphrase: passphrase)

        // Later: open it, schedule the next key a week ahead, seal it again.
        let opened = try Keyring(json: sealed, passphrase: passphrase)
        let (rotated, nextKey) = try opened.rotating(
            activeFrom: today.adding(days: 7)!, today: today,
            now: .now, allowPast: false)
        let resealed = try rotated.sealed(passphrase: passphrase)

        // Each morning: a device's day keys for its depot, as the response body.
        let device = try DeviceKeys(
            keyring: rotated, scope: try Scope("DEPOT-12"), from: today, days: 2,
            timeZone: zone, deviceID: try DeviceID("van-7"))
        var body = device.jsonBytes()
        // ... send `body` ...
        SecretBuffer.wipe(&body)
        // end snippet
        precondition(Keyring.isEncrypted(resealed) && rotated.keys.count == 2 && nextKey.activeFrom > today)

        // The door, with today's day keys from the keyring made above (the verifier refuses example keys).
        let deviceBytes = try DeviceKeys(keyring: rotated, scope: try Scope(""), from: today, days: 1, timeZone: zone).jsonBytes()
        let door = try Door(deviceKeys: deviceBytes, statePath: statePath)
        let first1 = await door.check("12a", for: shipment)
        let first2 = await door.check("000000", for: shipment)
        precondition(first1 == "Type the six digits", first1)
        precondition(first2.hasPrefix("Wrong code, 4") || first2 == "Hand the parcel over", first2)
        print("doc-snippets: every snippet ran")
    }
}
