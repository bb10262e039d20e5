import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand {
    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the delivery code for each shipment ID.",
            discussion: """
                Prints one line per ID, in order: the six-digit code and nothing else. \
                With --json, one JSON object per line with shipmentId, deliveryDate, \
                scope, code and keyId. Every ID is checked before anything is printed. \
                IDs that begin with '-' go after '--'.
                """
        )

        @OptionGroup var keys: KeySourceOptions
        @OptionGroup var day: DayOptions

        @Flag(help: "Print one JSON object per line instead of bare codes.")
        var json = false

        @Argument(help: ArgumentHelp("Shipment IDs: 1 to 64 printable ASCII characters each.", valueName: "id"))
        var shipmentIDs: [String] = []

        func validate() throws {
            if shipmentIDs.isEmpty { throw ValidationError("give at least one shipment ID") }
        }

        func run() throws {
            let (date, scope) = try day.parsed()
            let ids = try shipmentIDs.map { try ShipmentID($0) }
            let (generator, keyID) = try keys.generator(scope: scope, date: date)

            var output = OutputBuffer()
            for id in ids {
                let code = generator.code(for: id)
                if json {
                    output.append(JSONText.line([
                        ("shipmentId", id.rawValue), ("deliveryDate", date.description),
                        ("scope", scope.rawValue), ("code", code.description), ("keyId", keyID.rawValue),
                    ]))
                } else {
                    output.append(code.description + "\n")
                }
            }
        }
    }
}
