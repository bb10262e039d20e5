import ArgumentParser
import DeliveryOTP
import DeliveryOTPServer

extension DeliveryOTPCommand {
    struct Tokens: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the bearer tokens of 'serve': add, list, revoke.",
            discussion: """
                The tokens file keeps a SHA-256 digest of each token with its name, role, scopes, \
                device id and creation time, never the token itself. It is written atomically with mode 0600, and \
                every change is appended to FILE.audit.jsonl. A running service picks changes up \
                within seconds (or at once on SIGHUP).
                """,
            subcommands: [Add.self, List.self, Revoke.self]
        )
    }
}

struct TokensFileOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The tokens file (created by the first 'tokens add').", valueName: "file"))
    var tokens: String
}

extension DeliveryOTPCommand.Tokens {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new token and print it once.",
            discussion: """
                Roles: issuer (fetches codes; bound to the given scopes, or to all when none), courier \
                (verifies online; needs --scope), device (fetches its day keys and uploads its attempt \
                log; needs exactly one --scope and --device-id), auditor (reads the attempt log and the \
                key list; bound to the given scopes, or to all when none). The token is printed on \
                standard output and cannot be shown again.
                """
        )

        @OptionGroup var file: TokensFileOption

        @Option(name: .long, help: ArgumentHelp("issuer, courier, device or auditor.", valueName: "role"))
        var role: String

        @Option(name: .long, help: ArgumentHelp("A scope the token may act in (repeat for several).", valueName: "scope"))
        var scope: [String] = []

        @Option(
            name: .customLong("device-id"),
            help: ArgumentHelp(
                "A device token's device id: written into the day keys it fetches; its uploaded logs must name it.", valueName: "id"))
        var deviceID: String?

        @Option(name: .long, help: ArgumentHelp("The token's name: 1 to 64 characters from A-Z a-z 0-9 . _ -.", valueName: "name"))
        var name: String

        @OptionGroup var clock: ClockOptions

        func run() throws {
            guard let role = Role(rawValue: role) else {
                throw CommandFailure(
                    message: "unknown role \(role.debugDescription)", hint: "use issuer, courier, device or auditor", exitCode: .usage)
            }
            let name: DeviceID
            do { name = try DeviceID(self.name) } catch {
                throw CommandFailure(
                    message: "invalid --name \(self.name.debugDescription)", hint: "use 1 to 64 characters from A-Z a-z 0-9 . _ -",
                    exitCode: .usage)
            }
            let scopes = try scope.map { try Scope($0) }
            let device = try deviceID.map { text in
                do { return try DeviceID(text) } catch {
                    throw CommandFailure(
                        message: "invalid --device-id \(text.debugDescription)", hint: "use 1 to 64 characters from A-Z a-z 0-9 . _ -",
                        exitCode: .usage)
                }
            }
            let added = try TokenFile(path: file.tokens).add(
                name: name, role: role, scopes: scopes, deviceID: device, now: try clock.instant())
            var output = OutputBuffer()
            output.append(added.token + "\n")
            Diagnostics.note("added \(role.rawValue) token \(name) to \(file.tokens); it is shown only this once")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens: name, role, scopes, device id, created. Never a token.")

        @OptionGroup var file: TokensFileOption

        @Flag(help: "Print one JSON object per token and line.")
        var json = false

        func run() throws {
            let table = try TokenFile(path: file.tokens).load()
            var output = OutputBuffer()
            for entry in table.entries {
                let scopes = entry.scopes.map(\.rawValue).joined(separator: ",")
                if json {
                    output.append(
                        JSONText.line([
                            ("name", entry.name.rawValue), ("role", entry.role.rawValue), ("scopes", scopes),
                            ("deviceId", entry.deviceID?.rawValue), ("createdAt", entry.createdAt.description),
                        ]))
                } else {
                    output.append(
                        [
                            entry.name.rawValue, entry.role.rawValue, scopes.isEmpty ? "-" : scopes, entry.deviceID?.rawValue ?? "-",
                            entry.createdAt.description,
                        ].joined(separator: "  ") + "\n")
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a token by name; the service refuses it after its next reload (seconds, or at once on SIGHUP).")

        @OptionGroup var file: TokensFileOption

        @Argument(help: ArgumentHelp("The token's name.", valueName: "name"))
        var name: String

        @OptionGroup var clock: ClockOptions

        func run() throws {
            let name: DeviceID
            do { name = try DeviceID(self.name) } catch {
                throw CommandFailure(
                    message: "invalid token name \(self.name.debugDescription)", hint: "run 'delivery-otp tokens list' for the names",
                    exitCode: .usage)
            }
            let removed = try TokenFile(path: file.tokens).revoke(name: name, now: try clock.instant())
            Diagnostics.note("revoked \(removed.role.rawValue) token \(name)")
        }
    }
}
