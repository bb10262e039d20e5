import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand.Keys {
    struct Encrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encrypt a plain keyring at rest (scrypt N=2^17 r=8 p=1, AES-256-GCM).",
            discussion: """
                The passphrase comes from --passphrase-file or DELIVERY_OTP_PASSPHRASE and \
                must be at least 12 bytes. A keyring that is already encrypted is left as it is.
                """
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        func run() throws {
            let now = try clock.instant()
            guard let passphrase = try keyring.passphrase.passphrase() else {
                throw CommandFailure(
                    message: "no passphrase given",
                    hint: "give --passphrase-file FILE or set DELIVERY_OTP_PASSPHRASE", exitCode: .usage)
            }
            try passphrase.checkLongEnough()
            guard try keyring.file.setEncryption(true, passphrase: passphrase, now: now) else {
                Diagnostics.note("\(keyring.keyring) is already encrypted; nothing was changed")
                return
            }
            Diagnostics.note("\(keyring.keyring) is encrypted")
        }
    }

    struct Decrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt an encrypted keyring back to plain keyring format v1 (mode 0600)."
        )

        @OptionGroup var keyring: KeyringFileOptions
        @OptionGroup var clock: ClockOptions

        func run() throws {
            let now = try clock.instant()
            guard try keyring.file.setEncryption(false, passphrase: try keyring.passphrase.passphrase(), now: now) else {
                Diagnostics.note("\(keyring.keyring) is not encrypted; nothing was changed")
                return
            }
            Diagnostics.note("\(keyring.keyring) is no longer encrypted")
        }
    }
}
