import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a fresh key that takes over from a date.",
            discussion: """
                Codes for earlier dates keep their key, so codes already sent stay valid. \
                Refuses a date on which an unrevoked key already starts and, without \
                --force, a date in the past. Re-export device keys before the date.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        @Option(name: .customLong("active-from"), help: ArgumentHelp("The first date the new key is used.", valueName: "date"))
        var activeFrom: String

        @Flag(help: "Allow a date in the past (codes already sent for those dates stop working).")
        var force = false

        func run() throws {
            let now = try clock.instant()
            let today = clock.today(at: now)
            let start = try parseDate(activeFrom, option: "--active-from")
            var added: Keyring.Key?
            try keyring.file.update(passphrase: try keyring.passphrase.passphrase(), now: now) { (current) throws(KeyringFileError) in
                let (updated, key): (Keyring, Keyring.Key)
                do throws(KeyringLifecycleError) {
                    (updated, key) = try current.rotating(activeFrom: start, today: today, now: now, allowPast: force)
                } catch {
                    switch error {
                    case .keyring(let inner): throw .lifecycle(inner)
                    case .random: throw .random
                    }
                }
                added = key
                return (updated, [AuditLog.Event(operation: "rotate", key: key, details: [("activeFrom", start.description)])])
            }
            if let added {
                Diagnostics.note("added key \(added.id), active from \(start), fingerprint \(added.fingerprint)")
                Diagnostics.note("export device keys for \(start) and later again before that day")
            }
        }
    }
}
