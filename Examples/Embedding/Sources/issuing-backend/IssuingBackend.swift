// A carrier's backend. The master keyring arrives encrypted, as bytes (here read from
// standard input, as a secrets manager's client would hand them over), with the passphrase
// from the environment. It issues codes for a batch from a task group, and serves one
// courier device its day keys as bytes, never writing a secret to disk.
//
//   issuing-backend DATE SCOPE ID...   < sealed-keyring.json   (DELIVERY_OTP_PASSPHRASE set)
//
// Prints "ID CODE KEY-ID VALID-UNTIL" per ID, then "device-keys: N bytes, M days".
import DeliveryOTP
import Foundation

@main
struct IssuingBackend {
    static func main() async {
        do {
            try await run(Array(CommandLine.arguments.dropFirst()))
        } catch let error as any DeliveryOTPError {
            FileHandle.standardError.write(Data("issuing-backend: \(error)\n".utf8))
            if let hint = error.hint { FileHandle.standardError.write(Data("issuing-backend: hint: \(hint)\n".utf8)) }
            exit(65)
        } catch {
            FileHandle.standardError.write(Data("issuing-backend: \(error)\n".utf8))
            exit(64)
        }
    }

    static func run(_ arguments: [String]) async throws {
        guard arguments.count >= 3 else { throw UsageError() }
        let date = try DeliveryDate(arguments[0])
        let scope = try Scope(arguments[1])
        let shipments = try arguments.dropFirst(2).map { try ShipmentID($0) }

        var sealed = FileHandle.standardInput.readDataToEndOfFile()  // encrypted, but wiped all the same
        defer { SecretBuffer.wipe(&sealed) }
        let passphrase = try Passphrase(bytes: Array((ProcessInfo.processInfo.environment["DELIVERY_OTP_PASSPHRASE"] ?? "").utf8))
        let keyring: Keyring
        do {
            keyring = try Keyring(json: sealed, passphrase: passphrase)
        } catch {
            // Decided by the case, never by the text.
            guard error == .wrongPassphrase else { throw error }
            throw BackendError(description: "the passphrase does not open the keyring")
        }

        // One issuer, shared by the tasks: its generator table is immutable.
        let issuer = try CodeIssuer(keyring: keyring, preparing: [CodeIssuer.Slot(scope: scope, date: date)])
        let zone = try DeliveryTimeZone("Europe/Berlin")
        let validUntil = zone.format(zone.endOfDay(date))
        let (_, keyID) = try issuer.generator(scope: scope, date: date)

        // Each task issues a share of the shipments with the shared generator.
        let codes = try await withThrowingTaskGroup(of: (Int, DeliveryCode).self) { group in
            for (index, shipment) in shipments.enumerated() {
                group.addTask { (index, try issuer.generator(scope: scope, date: date).generator.code(for: shipment)) }
            }
            var codes = [DeliveryCode?](repeating: nil, count: shipments.count)
            for try await (index, code) in group { codes[index] = code }
            return codes.compactMap { $0 }
        }
        // The library's own async batch gives the same codes.
        let batch = try await issuer.codes(for: shipments.map { IssueRequest(shipment: $0, date: date, scope: scope) })
        guard batch == codes else { throw BackendError(description: "the task group and the batch disagree") }
        for (shipment, code) in zip(shipments, codes) {
            print("\(shipment) \(code) \(keyID) \(validUntil)")
        }

        // Day keys for one device, as bytes for the response body; wiped once sent.
        let device = try DeviceKeys(
            keyring: keyring, scope: scope, from: date, days: 2, timeZone: zone,
            deviceID: try DeviceID("van-7"))
        let sent = device.withJSON { body in body.count }
        print("device-keys: \(sent) bytes, \(device.entries.count) days")
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String { "usage: issuing-backend DATE SCOPE ID... < sealed-keyring.json" }
}

struct BackendError: DeliveryOTPError {
    let description: String
}
