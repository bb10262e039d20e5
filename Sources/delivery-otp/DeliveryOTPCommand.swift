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
        subcommands: [Issue.self, Verify.self, Keys.self, Attempts.self, Serve.self, Migrate.self, Tokens.self]
    )

    /// Runs the command and turns every failure into one `delivery-otp: error:` line
    /// (plus an optional hint) and a distinct exit code; never a stack trace.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `help X` for an X that is not a command prints the root help and exits 0 in
        // ArgumentParser; a typo there is a usage error like any other.
        if arguments.first == "help", arguments.count > 1, commandPath(arguments.dropFirst()).count < arguments.count - 1 {
            Diagnostics.fail(
                CommandFailure(
                    message: "unknown command '\(arguments.dropFirst().joined(separator: " "))'",
                    hint: "run 'delivery-otp --help' for the commands", exitCode: .usage))
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Diagnostics.exit(code.rawValue)
        } catch {
            if let failure = CommandFailure(known: error) { Diagnostics.fail(failure) }
            // Help and version requests print and exit 0 the usual way.
            if exitCode(for: error) == .success { exit(withError: error) }
            // Anything else comes from argument parsing: a usage error, pointing to the help
            // of the deepest command named (`delivery-otp keys rotate --help`).
            let path = commandPath(arguments.drop { $0.hasPrefix("-") })
            Diagnostics.fail(
                CommandFailure(
                    message: firstLine(of: message(for: error)),
                    hint: "run '\((["delivery-otp"] + path).joined(separator: " ")) --help' for usage",
                    exitCode: .usage))
        }
    }

    /// The leading words of `words` that name a command and its subcommands (`keys`, `rotate`).
    private static func commandPath(_ words: some Sequence<String>) -> [String] {
        var path: [String] = []
        var level: [any ParsableCommand.Type] = configuration.subcommands
        for word in words {
            guard let next = level.first(where: { $0._commandName == word }) else { break }
            path.append(word)
            level = next.configuration.subcommands
        }
        return path
    }

    private static func firstLine(of text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
        guard let first = line.first else { return "invalid arguments" }
        return first.lowercased() + line.dropFirst()
    }
}
