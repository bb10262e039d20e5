import ArgumentParser
import DeliveryOTP
import DeliveryOTPStore

extension DeliveryOTPCommand {
    struct Attempts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The courier device's attempt log.",
            subcommands: [Export.self]
        )

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the attempt log as JSON lines, for the device to upload when it is back online.",
                discussion: """
                    One object per attempt, oldest first: time (UTC), shipmentId, deliveryDate, \
                    scope, outcome (accepted, rejected, locked, already-accepted, or interrupted \
                    when the process ended before the verdict was stored), attempt (its number \
                    among counted attempts, or null) and deviceId (or null). Never the code that \
                    was typed, never a key. Entries for delivery dates more than 30 days old are \
                    removed as the device verifies.
                    """
            )

            @Option(name: .long, help: ArgumentHelp("The attempt store written by 'verify --device-keys'.", valueName: "db"))
            var state: String

            @Option(name: .long, help: ArgumentHelp("Only attempts at or after this RFC 3339 time.", valueName: "time"))
            var since: String?

            func run() throws {
                let start = try since.map { text -> Timestamp in
                    guard let time = Timestamp(rfc3339: text) else {
                        throw CommandFailure(
                            message: "invalid time \(text.debugDescription) for --since",
                            hint: "write an RFC 3339 time from 0001-01-02 to 9999-12-30 UTC, such as 2024-01-17T00:00:00+01:00",
                            exitCode: .usage)
                    }
                    return time
                }
                guard FileManagerShim.exists(state) else {
                    throw CommandFailure(
                        message: "cannot read \(state): no such file", hint: "check the path given to --state",
                        exitCode: .usage)
                }
                let store = try SQLiteAttemptStore(path: state)
                var output = OutputBuffer()
                for record in try store.records(since: start) {
                    output.append(record.jsonLine)
                }
            }
        }
    }
}
