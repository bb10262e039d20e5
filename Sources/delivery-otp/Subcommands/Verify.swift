import ArgumentParser
import DeliveryOTP
import DeliveryOTPStore
import Foundation

extension DeliveryOTPCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the code a customer shows for a shipment.",
            discussion: """
                At the door (--device-keys): checks today's code only, today being the \
                date in the device file's time zone, with at most 5 wrong codes per \
                shipment and day (or the device file's attemptLimit; --max-attempts can \
                only lower it). Each attempt is committed to --state before the code is \
                looked at; a lock lasts the rest of the day whatever limit a later call \
                gives, and a clock more than 10 minutes behind the latest attempt is \
                refused (exit 65, not counted). Prints 'accepted' (exit 0), 'rejected (N \
                attempts left)' (exit 1), 'locked' (exit 2) or 'already accepted at TIME' (exit 3); \
                input that is not six digits prints 'not a code' (exit 4) and counts nothing.

                With --keyring and --date (the issuing side): prints 'accepted' (exit 0) \
                or 'rejected' (exit 1), with no attempt limit.

                A code that is not six digits is rejected, not an error. The comparison \
                is constant-time. An ID that begins with '-' goes after '--'.
                """
        )

        @OptionGroup var keys: KeySourceOptions

        @Option(name: .long, help: ArgumentHelp("With --keyring: the delivery date, YYYY-MM-DD.", valueName: "date"))
        var date: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The scope. With --device-keys it defaults to the file's scope and must match it.", valueName: "scope"))
        var scope: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "With --device-keys: the attempt store (SQLite, created 0600). Default: $XDG_STATE_HOME/delivery-otp/attempts.sqlite.",
                valueName: "db"))
        var state: String?

        @Option(
            name: .customLong("max-attempts"),
            help: ArgumentHelp(
                "With --device-keys: lower the wrong codes allowed per shipment and day, 1 to 10 (never above the device file's limit, else 5).",
                valueName: "n"))
        var maxAttempts: Int?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "With --device-keys: act as if it were this RFC 3339 time (tests, replays).", valueName: "time"))
        var now: String?

        @Flag(
            name: .customLong("allow-example"),
            help: ArgumentHelp(
                "With --device-keys: accept day keys derived from the published example keys (for trying the tool only)."))
        var allowExample = false

        @Argument(help: ArgumentHelp("The shipment ID.", valueName: "id"))
        var shipmentID: String

        @Argument(help: ArgumentHelp("The code as shown or typed.", valueName: "code"))
        var code: String

        func validate() throws {
            if keys.deviceKeys != nil {
                if date != nil {
                    throw ValidationError(
                        "--date cannot be used with --device-keys: a device checks today's code only (use --now to replay)")
                }
                if let maxAttempts, !(1...10).contains(maxAttempts) {
                    throw ValidationError("--max-attempts must be 1 to 10, not \(maxAttempts)")
                }
            } else {
                if date == nil { throw ValidationError("give --date YYYY-MM-DD with --keyring") }
                if state != nil || maxAttempts != nil || now != nil || allowExample {
                    throw ValidationError("--state, --max-attempts, --now and --allow-example apply to --device-keys only")
                }
            }
        }

        func run() throws {
            let id = try ShipmentID(shipmentID)
            if let deviceKeysPath = keys.deviceKeys {
                try verifyAtTheDoor(id, deviceKeysPath: deviceKeysPath)
                return
            }
            let day = try DeliveryDate(date!)
            let generator = try keys.generator(scope: try Scope(scope ?? ""), date: day).generator
            let outcome = generator.verify(typed: code, for: id)
            Diagnostics.writeAll(1, outcome.rawValue + "\n")
            if outcome == .rejected { throw ExitCode(ExitStatus.rejected.rawValue) }
        }

        /// The courier flow: today's code, a durable attempt limit.
        private func verifyAtTheDoor(_ id: ShipmentID, deviceKeysPath: String) throws {
            let (deviceKeys, warnings) = try DeviceKeys.load(path: deviceKeysPath)
            // Anyone can compute the codes of the published example keys: a door must not open to them.
            if deviceKeys.isExample && !allowExample {
                throw CommandFailure(
                    message: "\(deviceKeysPath) holds day keys of the published example keys; anyone can compute their codes",
                    hint: "export device keys from a keyring of your own, or add --allow-example to try the tool",
                    exitCode: .dataError)
            }
            warnings.forEach(Diagnostics.warning)
            if let scope {
                let requested = try Scope(scope)
                if requested != deviceKeys.scope { throw DeviceKeysError.wrongScope(requested, holds: deviceKeys.scope) }
            }
            let instant = try ClockOptions.instant(from: now)
            let store = try SQLiteAttemptStore(path: try state ?? Self.defaultStatePath())
            let verifier = try CourierVerifier(
                deviceKeys: deviceKeys, store: store, attemptLimit: maxAttempts,
                allowExampleKeys: allowExample, clock: { instant })
            let outcome: DoorOutcome
            do { outcome = try verifier.verify(code, for: id) } catch {
                if case .noKeyForToday(let date) = error { throw DeviceKeysError.noKeyForDate(date, scope: deviceKeys.scope) }
                throw error
            }
            switch outcome {
            case .accepted:
                Diagnostics.writeAll(1, "accepted\n")
            case .rejected(let left):
                Diagnostics.writeAll(1, "rejected (\(left) attempt\(left == 1 ? "" : "s") left)\n")
                throw ExitCode(ExitStatus.rejected.rawValue)
            case .locked:
                Diagnostics.writeAll(1, "locked\n")
                throw ExitCode(ExitStatus.locked.rawValue)
            case .alreadyAccepted(let time):
                Diagnostics.writeAll(1, "already accepted at \(deviceKeys.timeZone.format(time))\n")
                throw ExitCode(ExitStatus.alreadyAccepted.rawValue)
            case .notACode:
                Diagnostics.writeAll(1, "not a code (six digits expected; nothing was counted)\n")
                throw ExitCode(ExitStatus.notACode.rawValue)
            }
        }

        /// `$XDG_STATE_HOME/delivery-otp/attempts.sqlite`, else `~/.local/state/...`; the folder is made 0700.
        static func defaultStatePath() throws -> String {
            let environment = ProcessInfo.processInfo.environment
            let base =
                environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
            let folder = base + "/delivery-otp"
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw CommandFailure(
                    message: "cannot create \(folder) for the attempt store",
                    hint: "give --state FILE in a writable folder", exitCode: .ioError)
            }
            return folder + "/attempts.sqlite"
        }
    }
}
