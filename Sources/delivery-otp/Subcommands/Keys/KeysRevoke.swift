import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key and add its replacement in one step.",
            discussion: """
                The key is marked revoked (kept for audit) and a fresh key takes over \
                from --replacement-from: today by default, or the revoked key's own start \
                if that is later. Codes already sent for the affected dates stop working \
                and must be sent again; the command lists those dates.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        @Argument(help: ArgumentHelp("The id of the key to revoke (see 'keys list').", valueName: "key-id"))
        var keyID: String

        @Option(name: .customLong("replacement-from"),
                help: ArgumentHelp("The first date of the replacement key (default: today).", valueName: "date"))
        var replacementFrom: String?

        @Flag(help: "Allow a replacement date in the past.")
        var force = false

        func run() throws {
            let now = try clock.instant()
            let today = clock.today(at: now)
            let id = try KeyID(keyID)
            let replacementStart = try replacementFrom.map { try parseDate($0, option: "--replacement-from") }
            var outcome: Keyring.Revocation?
            try keyring.file.update(passphrase: try keyring.passphrase.passphrase(), now: now) { (current) throws(KeyringFileError) in
                let revocation: Keyring.Revocation
                do throws(KeyringLifecycleError) {
                    revocation = try current.revoking(id: id, replacementFrom: replacementStart, today: today, now: now,
                                                      allowPast: force)
                } catch {
                    switch error {
                    case .keyring(let inner): throw .lifecycle(inner)
                    case .random: throw .random
                    }
                }
                outcome = revocation
                let start = revocation.replacement.activeFrom.description
                return (revocation.keyring, [
                    AuditLog.Event(operation: "revoke", key: revocation.revoked, details: [("replacedBy", revocation.replacement.id.rawValue)]),
                    AuditLog.Event(operation: "replace", key: revocation.replacement, details: [("activeFrom", start)]),
                ])
            }
            guard let outcome else { return }
            Diagnostics.note("revoked key \(outcome.revoked.id) (fingerprint \(outcome.revoked.fingerprint))")
            Diagnostics.note("added key \(outcome.replacement.id), active from \(outcome.replacement.activeFrom), fingerprint \(outcome.replacement.fingerprint)")
            if let (first, last) = outcome.affected {
                let range = last.map { "\(first) to \($0)" } ?? "\(first) onwards"
                Diagnostics.note("affected dates: \(range); codes already sent for them no longer work: issue and send them again")
            } else {
                Diagnostics.note("affected dates: none from today on")
            }
            Diagnostics.note("export device keys again for every scope that holds those dates")
        }
    }
}
