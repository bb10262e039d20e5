import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the code a customer shows for a shipment.",
            discussion: """
                Prints 'accepted' (exit 0) or 'rejected' (exit 1). A code that is not \
                six digits is rejected, not an error. The comparison is constant-time. \
                An ID that begins with '-' goes after '--'.
                """
        )

        @OptionGroup var keys: KeySourceOptions
        @OptionGroup var day: DayOptions

        @Argument(help: ArgumentHelp("The shipment ID.", valueName: "id"))
        var shipmentID: String

        @Argument(help: ArgumentHelp("The code as shown or typed.", valueName: "code"))
        var code: String

        func run() throws {
            let (date, scope) = try day.parsed()
            let id = try ShipmentID(shipmentID)
            let generator = try keys.generator(scope: scope, date: date).generator
            let outcome = generator.verify(typed: code, for: id)
            Diagnostics.writeAll(1, outcome.rawValue + "\n")
            if outcome == .rejected { throw ExitCode(ExitStatus.rejected.rawValue) }
        }
    }
}
