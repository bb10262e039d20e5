import DeliveryOTP

/// The command line's own words for some library errors. The library's hints are for
/// any program and name no flags; here a hint can say which flag or command fixes it.
enum CommandLineWording {
    static func hint(for error: KeyringError) -> String? {
        switch error {
        case .unsupportedVersion: "upgrade delivery-otp to read this keyring"
        case .unknownKeyID: "list the keys with 'delivery-otp keys list'"
        case .dateInPast: "use --force to change codes for past dates on purpose"
        case .replacementTooLate(_, let latest): "use --replacement-from \(latest) or earlier"
        case .replacementBeforeKey(_, let keyStart): "use --replacement-from \(keyStart) or later"
        case .replacementAfterKey(_, let nextStart): "use --replacement-from before \(nextStart)"
        case .exampleKeyring: "create a keyring of your own with 'delivery-otp keys init'"
        case .passphraseRequired: "give --passphrase-file FILE or set DELIVERY_OTP_PASSPHRASE"
        default: nil
        }
    }

    static func message(for error: DeviceKeysError) -> String {
        switch error {
        case .dayCount(let days): "--days must be 1 to \(DeviceKeys.maximumDays), not \(days)"
        case .inFile(let path, let inner): "\(path): \(message(for: inner))"
        default: error.description
        }
    }

    static func hint(for error: DeviceKeysError) -> String? {
        switch error {
        case .keyring(let inner): hint(for: inner)
        case .noKeyForDate: "export fresh day keys with 'delivery-otp keys export-device'"
        case .wrongScope(_, let holds): "use --scope \(holds.rawValue), or the device keys for that scope"
        case .inFile(_, let inner): hint(for: inner)
        default: nil
        }
    }

    static func hint(for error: ManifestError) -> String? {
        switch error {
        case .rejectedRow: "fix the row, or run without --strict to send bad rows to --rejects"
        case .badHeader(_, let hint) where hint == ManifestError.jsonLinesHint:
            "this looks like JSON lines: name the file .jsonl or give --input-format jsonl"
        default: nil
        }
    }
}
