import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the keys: id, active from, until, status and fingerprint. Never a secret.",
            discussion: """
                'until' is the date the next key takes over (the key's last day is the day before). \
                Status is scheduled, active, superseded or revoked, as of today.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        @Flag(help: "Print one JSON object per key and line.")
        var json = false

        func run() throws {
            let now = try clock.instant()
            let today = clock.today(at: now)
            let ring = try keyring.load().keyring
            var output = OutputBuffer()
            let rows = ring.keys.sorted { ($0.activeFrom, $0.id) < ($1.activeFrom, $1.id) }.map { key in
                (key: key, until: key.isRevoked ? nil : ring.successorStart(of: key), status: ring.status(of: key, today: today))
            }
            if json {
                for row in rows {
                    output.append(
                        JSONText.line([
                            ("id", row.key.id.rawValue), ("activeFrom", row.key.activeFrom.description),
                            ("until", row.until?.description), ("status", row.status.rawValue),
                            ("fingerprint", row.key.fingerprint.description),
                            ("createdAt", row.key.createdAt?.description), ("revokedAt", row.key.revokedAt?.description),
                        ]))
                }
                return
            }
            let header = ["ID", "ACTIVE FROM", "UNTIL", "STATUS", "FINGERPRINT"]
            let table = rows.map { row in
                [
                    row.key.id.rawValue, row.key.activeFrom.description, row.until?.description ?? "-",
                    row.status.rawValue, row.key.fingerprint.description,
                ]
            }
            let widths = header.indices.map { column in ([header] + table).map { $0[column].count }.max()! }
            for line in [header] + table {
                let cells = line.enumerated().map { index, cell in
                    index == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
                }
                output.append(cells.joined(separator: "  ") + "\n")
            }
        }
    }
}
