import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key and add its replacement in one step.",
            discussion: """
                The key is marked revoked (kept for audit). If it still serves today or a \
                later date, a fresh key takes over its dates from --replacement-from: \
                today by default, or the revoked key's own start if that is later; the \
                date must lie within the revoked key's own dates. Only the revoked key's \
                dates change; the command lists them. Codes already sent for those from \
                today on stop working and must be sent again.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        @Argument(help: ArgumentHelp("The id of the key to revoke (see 'keys list').", valueName: "key-id"))
        var keyID: String

        @Option(
            name: .customLong("replacement-from"),
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
                    revocation = try current.revoking(
                        id: id, replacementFrom: replacementStart, today: today, now: now,
                        allowPast: force)
                } catch {
                    switch error {
                    case .keyring(let inner): throw .lifecycle(inner)
                    case .random: throw .random
                    }
                }
                outcome = revocation
                guard let replacement = revocation.replacement else {
                    return (revocation.keyring, [AuditLog.Event(operation: "revoke", key: revocation.revoked)])
                }
                return (
                    revocation.keyring,
                    [
                        AuditLog.Event(operation: "revoke", key: revocation.revoked, details: [("replacedBy", replacement.id.rawValue)]),
                        AuditLog.Event(
                            operation: "replace", key: replacement, details: [("activeFrom", replacement.activeFrom.description)]),
                    ]
                )
            }
            guard let outcome else { return }
            Diagnostics.note("revoked key \(outcome.revoked.id) (fingerprint \(outcome.revoked.fingerprint))")
            if let replacement = outcome.replacement {
                Diagnostics.note(
                    "added key \(replacement.id), active from \(replacement.activeFrom), fingerprint \(replacement.fingerprint)")
            } else {
                Diagnostics.note("no replacement needed: the key was superseded before today")
            }
            Diagnostics.note("dates whose codes changed: \(outcome.changed) (the revoked key's dates), no others")
            if let fromToday = outcome.changedFromToday {
                Diagnostics.note("affected dates: \(fromToday); codes already sent for them no longer work: issue and send them again")
                Diagnostics.note("export device keys again for every scope that holds those dates")
            } else {
                Diagnostics.note("affected dates: none from today on")
            }
            if let fallbackDates = outcome.fallbackDates {
                Diagnostics.note("\(fallbackDates) now \(outcome.fallback.map { "use key \($0.id)" } ?? "have no key")")
            }
        }
    }
}
