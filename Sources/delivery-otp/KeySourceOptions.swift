import ArgumentParser
import DeliveryOTP
import Foundation

/// Where the secrets come from: a keyring (issuing side) or device keys (courier side).
struct KeySourceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The keyring file (format v1, see SPEC.md).", valueName: "file"))
    var keyring: String?

    @Option(
        name: .customLong("device-keys"),
        help: ArgumentHelp("A device-key file from 'keys export-device', in place of --keyring.", valueName: "file"))
    var deviceKeys: String?

    @OptionGroup var passphrase: PassphraseOptions

    func validate() throws {
        switch (keyring, deviceKeys) {
        case (nil, nil): throw ValidationError("give --keyring FILE or --device-keys FILE")
        case (_?, _?): throw ValidationError("give --keyring or --device-keys, not both")
        default: break
        }
    }

    /// The code generator for `scope` and `date`, and the id of the master key behind it.
    func generator(scope: Scope, date: DeliveryDate) throws -> (generator: CodeGenerator, keyID: KeyID) {
        if let deviceKeys {
            let (keys, warnings) = try DeviceKeys.load(path: deviceKeys)
            warnings.forEach(Diagnostics.warning)
            let (dayKey, keyID) = try keys.dayKey(scope: scope, date: date)
            return (CodeGenerator(dayKey: dayKey), keyID)
        }
        // Reading the published example keyring to try the tool is fine, with a warning.
        let given = try passphrase.passphrase()
        let loaded = try KeyringFile(path: keyring!).load(passphrase: given, exampleMayBeShared: true)
        loaded.warnings.forEach(Diagnostics.warning)
        PassphraseOptions.noteIfUnneeded(given, loaded, path: keyring!)
        let (dayKey, keyID) = try loaded.keyring.dayKey(scope: scope, date: date)
        return (CodeGenerator(dayKey: dayKey), keyID)
    }
}

/// The passphrase of an encrypted keyring: a file, or the environment.
struct PassphraseOptions: ParsableArguments {
    static let environmentVariable = "DELIVERY_OTP_PASSPHRASE"

    @Option(
        name: .customLong("passphrase-file"),
        help: ArgumentHelp(
            "A file (mode 0600) whose first line is the keyring's passphrase. Or set DELIVERY_OTP_PASSPHRASE.",
            valueName: "file"))
    var passphraseFile: String?

    /// Tells the user that a passphrase was given for a keyring that is not encrypted.
    static func noteIfUnneeded(_ passphrase: Passphrase?, _ loaded: KeyringFile.Loaded, path: String) {
        if passphrase != nil && !loaded.isEncrypted {
            Diagnostics.note("\(path) is not encrypted: the passphrase is not needed")
        }
    }

    /// The passphrase, or nil when none was given.
    func passphrase() throws -> Passphrase? {
        if let passphraseFile { return try Passphrase(file: passphraseFile) }
        if let text = ProcessInfo.processInfo.environment[Self.environmentVariable] { return try Passphrase(text) }
        return nil
    }
}

/// The delivery day and scope that select the day key.
struct DayOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The delivery date, YYYY-MM-DD.", valueName: "date"))
    var date: String

    @OptionGroup var scope: ScopeOption

    /// The parsed date and scope; throws ``InputError`` for bad values (exit 64).
    func parsed() throws -> (date: DeliveryDate, scope: Scope) {
        (try DeliveryDate(date), try scope.parsed())
    }
}

struct ScopeOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The depot or region the parcel is delivered from: 0 to 32 characters from A-Z a-z 0-9 . _ -.",
            valueName: "scope"))
    var scope: String = ""

    func parsed() throws -> Scope { try Scope(scope) }
}

/// "Now" for commands that depend on today's date: the system clock, or a fixed time for tests and replays.
struct ClockOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Act as if it were this RFC 3339 time (for tests and replays).",
            valueName: "time", visibility: .hidden))
    var now: String?

    func instant() throws -> Timestamp {
        try Self.instant(from: now)
    }

    /// The system clock, or the RFC 3339 time given.
    static func instant(from now: String?) throws -> Timestamp {
        guard let now else { return .now }
        guard let instant = Timestamp(rfc3339: now) else {
            throw CommandFailure(
                message: "invalid time \(now.debugDescription) for --now",
                hint: "write an RFC 3339 time from 0001-01-02 to 9999-12-30 UTC, such as 2024-01-17T09:30:00+01:00", exitCode: .usage)
        }
        return instant
    }

    /// Today's date in the machine's time zone.
    func today(at instant: Timestamp) -> DeliveryDate {
        DeliveryTimeZone.current.date(at: instant)
    }
}
