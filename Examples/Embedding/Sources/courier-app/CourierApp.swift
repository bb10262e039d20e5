// A courier handheld. Its day keys arrive as bytes (here on standard input, as from a
// provisioning response or a keychain); verification runs in an actor, with the durable
// attempt store written off the actor's executor by the async verify. At the end it
// prints its attempt log in the library's upload format.
//
//   courier-app STATE NOW SHIPMENT CODE...   < device-keys.json
//
// Prints one line per code ("accepted", "rejected 4", "locked", "already-accepted",
// "not-a-code"), then the attempt log as JSON lines.
import DeliveryOTP
import DeliveryOTPStore
import Foundation

/// The door: one verifier, shared by whatever calls the actor.
actor Door {
    private let verifier: CourierVerifier<SQLiteAttemptStore>

    init(deviceKeys: DeviceKeys, statePath: String, now: Timestamp) throws {
        let store = try SQLiteAttemptStore(path: statePath)
        verifier = try CourierVerifier(deviceKeys: deviceKeys, store: store, clock: { now })
    }

    /// What the courier's screen shows for one typed code.
    func check(_ typed: String, for shipment: ShipmentID) async -> String {
        do {
            switch try await verifier.verify(typed, for: shipment) {
            case .accepted: return "accepted"
            case .rejected(let left): return "rejected \(left)"
            case .locked: return "locked"
            case .alreadyAccepted: return "already-accepted"
            case .notACode: return "not-a-code"
            }
        } catch {
            // The app decides by case and kind, never by the text.
            switch error {
            case .noKeyForToday: return "error: sync the device"
            case .clockMovedBack: return "error: set the clock"
            case .store(let storeError):
                switch storeError.kind {
                case .busy: return "error: busy, try again"
                case .schemaTooNew: return "error: update the app"
                case .notADatabase, .cannotOpen, .io, .clockMovedBack: return "error: reset the attempt store"
                }
            case .attemptLimit, .exampleKeys: return "error: bad configuration"
            }
        }
    }

    func log() throws -> String {
        try verifier.store.records(since: nil).map(\.jsonLine).joined()
    }
}

@main
struct CourierApp {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 4, let now = Timestamp(rfc3339: arguments[1]) else {
            FileHandle.standardError.write(Data("usage: courier-app STATE NOW SHIPMENT CODE... < device-keys.json\n".utf8))
            exit(64)
        }
        do {
            var bytes = FileHandle.standardInput.readDataToEndOfFile()  // the only copy: wiped below
            let keys = try DeviceKeys(json: bytes)
            SecretBuffer.wipe(&bytes)
            let door = try Door(deviceKeys: keys, statePath: arguments[0], now: now)
            let shipment = try ShipmentID(arguments[2])
            for typed in arguments.dropFirst(3) {
                print(await door.check(typed, for: shipment))
            }
            // The upload format of `delivery-otp attempts export`, read back as the service will.
            let log = try await door.log()
            _ = try AttemptRecord.records(jsonLines: log)
            print(log, terminator: "")
        } catch let error as any DeliveryOTPError {
            FileHandle.standardError.write(Data("courier-app: \(error)\n".utf8))
            exit(65)
        } catch {
            FileHandle.standardError.write(Data("courier-app: \(error)\n".utf8))
            exit(70)
        }
    }
}
