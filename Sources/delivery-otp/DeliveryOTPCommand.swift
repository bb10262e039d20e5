import ArgumentParser
import DeliveryOTP

@main
struct DeliveryOTPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delivery-otp",
        abstract: "Issue and verify six-digit delivery codes (spec v1).",
        discussion: """
            A code is valid for one shipment on one delivery day. Codes are derived \
            from a keyring's master secret, so nothing needs to be stored per code.

            Exit codes: 0 success or accepted, 1 rejected (or problems found by \
            'keys check'), 2 locked, 3 already accepted, 64 bad usage or argument, 65 bad data (keyring, no key for \
            the date), 71 system failure, 73 file exists, 74 write failed, \
            77 unsafe permissions or wrong passphrase.
            """,
        version: "0.1.0",
        subcommands: [Issue.self, Verify.self, Keys.self, Attempts.self]
    )

    /// Runs the command and turns every failure into one `delivery-otp: error:` line
    /// (plus an optional hint) and a distinct exit code; never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Diagnostics.exit(code.rawValue)
        } catch {
            if let failure = CommandFailure(known: error) { Diagnostics.fail(failure) }
            // Help and version requests print and exit 0 the usual way.
            if exitCode(for: error) == .success { exit(withError: error) }
            // Anything else comes from argument parsing: a usage error.
            let subcommand = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") } ?? ""
            let known = configuration.subcommands.contains { $0._commandName == subcommand }
            Diagnostics.fail(CommandFailure(
                message: firstLine(of: message(for: error)),
                hint: "run 'delivery-otp\(known ? " " + subcommand : "") --help' for usage",
                exitCode: .usage))
        }
    }

    private static func firstLine(of text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
        guard let first = line.first else { return "invalid arguments" }
        return first.lowercased() + line.dropFirst()
    }
}
