import ArgumentParser
import DeliveryOTP

extension DeliveryOTPCommand {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage master keys: create, rotate, revoke, list, check, export day keys to devices, encrypt at rest.",
            discussion: """
                Every change is written atomically (a crash leaves the old or the new file), \
                serialised with a lock on FILE.lock, and recorded in FILE.audit.jsonl. \
                Keys are never deleted: revoked and superseded keys stay for audit. \
                See docs/key-rotation.md for the runbook.
                """,
            subcommands: [
                Init.self, Rotate.self, Revoke.self, List.self, Check.self, ExportDevice.self,
                Encrypt.self, Decrypt.self,
            ]
        )
    }
}

/// The keyring a `keys` subcommand works on.
struct KeyringFileOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The keyring file.", valueName: "file"))
    var keyring: String

    @OptionGroup var passphrase: PassphraseOptions

    var file: KeyringFile { KeyringFile(path: keyring) }

    /// A keyring written over its own passphrase file would lose the passphrase.
    func validate() throws {
        if let passphraseFile = passphrase.passphraseFile {
            try DistinctFiles.check(
                outputs: [.init(option: "--keyring", path: keyring)],
                inputs: [.init(option: "--passphrase-file", path: passphraseFile)])
        }
    }

    /// Loads the keyring and shows its warnings.
    func load() throws -> KeyringFile.Loaded {
        let given = try passphrase.passphrase()
        let loaded = try file.load(passphrase: given)
        loaded.warnings.forEach(Diagnostics.warning)
        PassphraseOptions.noteIfUnneeded(given, loaded, path: keyring)
        return loaded
    }
}

extension Keyring.Key {
    var fingerprint: KeyFingerprint { KeyFingerprint(of: secret) }
}

/// Parses a date option, naming the option in the message.
func parseDate(_ text: String, option: String) throws -> DeliveryDate {
    do { return try DeliveryDate(text) } catch {
        throw CommandFailure(message: "\(option): \(error.description)", hint: error.hint, exitCode: .usage)
    }
}
