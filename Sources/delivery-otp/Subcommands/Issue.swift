import ArgumentParser
import DeliveryOTP
import Foundation

extension DeliveryOTPCommand {
    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the delivery code for each shipment ID, or issue a whole manifest.",
            discussion: """
                With IDs: prints one line per ID, in order: the six-digit code and nothing \
                else. With --json, one JSON object per line with shipmentId, deliveryDate, \
                scope, code and keyId. Every ID is checked before anything is printed. IDs \
                that begin with '-' go after '--'.

                With --manifest: reads the day's manifest (CSV with a header, or JSON lines; \
                columns shipment_id, delivery_date, and optionally scope, order_value, \
                currency) and writes one record per row, in input order: shipment_id, \
                delivery_date, scope, code_required, code, key_id, valid_until. A parcel \
                needs a code when its order value is at or above the threshold for its \
                currency (default 100 EUR, 100 GBP, 500 INR); one with no value or another \
                currency gets a code. Bad rows go to --rejects with their line number; \
                --strict stops at the first. The output file appears only when complete.
                """
        )

        @OptionGroup var keys: KeySourceOptions

        @Option(name: .long, help: ArgumentHelp("The delivery date, YYYY-MM-DD (with IDs).", valueName: "date"))
        var date: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The depot or region the parcel is delivered from: 0 to 32 characters from A-Z a-z 0-9 . _ - (with IDs).",
                valueName: "scope"))
        var scope: String = ""

        @Flag(help: "Print one JSON object per line instead of bare codes (with IDs).")
        var json = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The manifest to issue: a .csv or .jsonl file, or - for standard input.",
                valueName: "file"))
        var manifest: String?

        @Option(
            name: .customLong("input-format"),
            help: ArgumentHelp(
                "csv or jsonl (default: from the extension; csv for -).",
                valueName: "format"))
        var inputFormat: String?

        @Option(name: .long, help: ArgumentHelp("Where to write the records; - is standard output.", valueName: "file"))
        var out: String = "-"

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Where to write bad rows; - for standard output, which --out must then not be (default: standard error).",
                valueName: "file"))
        var rejects: String?

        @Option(
            name: .customLong("time-zone"),
            help: ArgumentHelp(
                "The IANA zone for valid_until, the end of the delivery day (default: the system's, else UTC).", valueName: "tz"))
        var timeZone: String?

        @Option(
            name: .customLong("threshold"), parsing: .singleValue,
            help: ArgumentHelp(
                "CUR=AMOUNT adds or overrides a currency's threshold (e.g. USD=150); 'all' requires a code for every parcel.",
                valueName: "rule"))
        var thresholds: [String] = []

        @Flag(help: "Stop at the first bad row (exit 65, no output file).")
        var strict = false

        @Flag(help: "Replace an existing --out or --rejects file.")
        var force = false

        @Option(name: .long, help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n", visibility: .hidden))
        var threads: Int?

        @Argument(help: ArgumentHelp("Shipment IDs: 1 to 64 printable ASCII characters each.", valueName: "id"))
        var shipmentIDs: [String] = []

        func validate() throws {
            if manifest != nil {
                if !shipmentIDs.isEmpty || date != nil || json {
                    throw ValidationError("--manifest cannot be combined with IDs, --date or --json")
                }
                if keys.deviceKeys != nil { throw ValidationError("--manifest needs --keyring") }
                if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be 1 to 64") }
            } else {
                if shipmentIDs.isEmpty { throw ValidationError("give at least one shipment ID, or --manifest FILE") }
                if date == nil { throw ValidationError("give --date YYYY-MM-DD with shipment IDs") }
                if inputFormat != nil || out != "-" || rejects != nil || timeZone != nil || !thresholds.isEmpty || strict {
                    throw ValidationError("--out, --rejects, --time-zone, --threshold, --strict and --input-format go with --manifest")
                }
            }
        }

        func run() throws {
            if let manifest {
                try ManifestRun(command: self, manifest: manifest).run()
                return
            }
            let day = try DeliveryDate(date!)
            let scopeValue = try Scope(scope)
            let ids = try shipmentIDs.map { try ShipmentID($0) }
            let (generator, keyID) = try keys.generator(scope: scopeValue, date: day)

            var output = OutputBuffer()
            for id in ids {
                let code = generator.code(for: id)
                if json {
                    output.append(
                        JSONText.line([
                            ("shipmentId", id.rawValue), ("deliveryDate", day.description),
                            ("scope", scopeValue.rawValue), ("code", code.description), ("keyId", keyID.rawValue),
                        ]))
                } else {
                    output.append(code.description + "\n")
                }
            }
        }
    }
}
