import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a keyring with one fresh 32-byte key.",
            discussion: """
                The key comes from OpenSSL's CSPRNG. The file is created with mode 0600 \
                and never overwrites an existing one; with --force the old file is kept \
                as FILE.replaced-TIME. With a passphrase (12 bytes or more) the keyring is \
                encrypted at rest.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        @Option(name: .customLong("active-from"), help: ArgumentHelp("The first date the key is used (default: today).", valueName: "date"))
        var activeFrom: String?

        @Flag(help: "Replace an existing keyring (the old file is kept beside it).")
        var force = false

        func run() throws {
            let now = try clock.instant()
            let start = try activeFrom.map { try parseDate($0, option: "--active-from") } ?? clock.today(at: now)
            let passphrase = try keyring.passphrase.passphrase()
            try passphrase?.checkLongEnough()
            let (created, key) = try Keyring.initial(activeFrom: start, now: now)
            let keptAs = try keyring.file.create(
                created, passphrase: passphrase, replaceExisting: force, now: now,
                audit: [AuditLog.Event(operation: "init", key: key, details: [("activeFrom", start.description)])])
            if let keptAs { Diagnostics.note("the previous keyring was kept as \(keptAs)") }
            Diagnostics.note(
                "created \(keyring.keyring)\(passphrase == nil ? "" : " (encrypted)") with key \(key.id), active from \(start), fingerprint \(key.fingerprint)"
            )
        }
    }
}
