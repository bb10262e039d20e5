/// Why a keyring cannot be used. Messages never contain secret material.
public enum KeyringError: DeliveryOTPError, Hashable {
    /// The text is not JSON, or not a JSON object.
    case notJSON(reason: String)
    /// The `format` field is missing or names another kind of file.
    case wrongFormat(found: String?)
    /// A `version` this release does not know.
    case unsupportedVersion(Int)
    /// A field is missing, has the wrong type, or holds an invalid value.
    case invalidField(path: String, reason: String)
    /// The keyring has no keys at all.
    case noKeys
    /// Two keys share an id.
    case duplicateKeyID(KeyID)
    /// Two unrevoked keys start on the same date, so the key for that date is ambiguous.
    case conflictingActiveFrom(DeliveryDate, KeyID, KeyID)
    /// No unrevoked key starts on or before this date.
    case noKeyCovers(DeliveryDate)
    /// No key has this id.
    case unknownKeyID(KeyID)
    /// An unrevoked key already starts on this date.
    case activeFromTaken(DeliveryDate, KeyID)
    /// A start date before today, which would change codes already sent.
    case dateInPast(DeliveryDate, today: DeliveryDate)
    /// The key was revoked before.
    case alreadyRevoked(KeyID)
    /// A replacement that starts after `latest` would leave dates without a key.
    case replacementTooLate(DeliveryDate, latest: DeliveryDate)
    /// A replacement that starts before the revoked key would take dates from the key before it.
    case replacementBeforeKey(DeliveryDate, keyStart: DeliveryDate)
    /// A replacement that starts on or after the next key's start would take that key's dates.
    case replacementAfterKey(DeliveryDate, nextStart: DeliveryDate)
    /// A JSON object gives this member twice; which one counts would be a guess.
    case duplicateMember(path: String)
    /// The published example keys must not be changed: a keyring that holds them is for trying the tool only.
    case exampleKeyring
    /// The keyring is encrypted (SPEC.md §5) and no passphrase was given.
    case passphraseRequired
    /// The passphrase does not open the encrypted keyring, or the file was altered.
    case wrongPassphrase
    /// scrypt or AES-256-GCM failed inside OpenSSL (not a wrong passphrase: that is ``wrongPassphrase``).
    case encryptionFailed(String)
    /// The system's secure random source failed while sealing; nothing was produced.
    case randomSourceFailed
}

extension KeyringError {
    /// One line for a person; never a secret.
    public var description: String {
        switch self {
        case .notJSON(let reason): "not a valid keyring: \(reason)"
        case .wrongFormat(let found?): "not a delivery-otp keyring (format is \(Printable.quoted(found)))"
        case .wrongFormat(nil): "not a delivery-otp keyring (no \"format\" field)"
        case .unsupportedVersion(let version):
            "keyring version \(version) is not supported; this release reads version \(KeyringDocument.currentVersion)"
        case .invalidField(let path, let reason): "\(path): \(reason)"
        case .noKeys: "the keyring has no keys"
        case .duplicateKeyID(let id): "two keys have the id \(id)"
        case .conflictingActiveFrom(let date, let first, let second):
            "keys \(first) and \(second) are both unrevoked and both active from \(date)"
        case .noKeyCovers(let date): "no key covers \(date)"
        case .unknownKeyID(let id): "no key has the id \(id)"
        case .activeFromTaken(let date, let id): "key \(id) already starts on \(date)"
        case .dateInPast(let date, let today): "\(date) is in the past (today is \(today))"
        case .alreadyRevoked(let id): "key \(id) is already revoked"
        case .replacementTooLate(let date, let latest):
            "a replacement from \(date) would leave the dates from \(latest) without a key"
        case .replacementBeforeKey(let date, let keyStart):
            "a replacement from \(date) would change the codes of dates before the revoked key's start, \(keyStart)"
        case .replacementAfterKey(let date, let nextStart):
            "a replacement from \(date) would take over dates from \(nextStart), which belong to the next key"
        case .duplicateMember(let path): "\(path) is given twice; each member may appear once"
        case .exampleKeyring:
            "this keyring holds the published example keys (\"example\": true), which must never be used or changed for production"
        case .passphraseRequired: "the keyring is encrypted and no passphrase was given"
        case .wrongPassphrase: "wrong passphrase for the encrypted keyring (or it was altered)"
        case .encryptionFailed(let reason): reason
        case .randomSourceFailed: "the system's secure random source (OpenSSL RAND_bytes) failed"
        }
    }

    /// How to fix it, in one line; nil when the message says it all.
    public var hint: String? {
        switch self {
        case .notJSON, .invalidField, .noKeys, .duplicateMember:
            "compare the file with keys-example/keyring.json and SPEC.md (keyring format v1)"
        case .wrongFormat: "pass a keyring file (\"format\": \"\(KeyringDocument.formatName)\")"
        case .unsupportedVersion(let version) where version > KeyringDocument.currentVersion:
            "update to a release that reads this keyring version"
        case .unsupportedVersion: nil
        case .duplicateKeyID, .conflictingActiveFrom: "revoke one of the two keys"
        case .noKeyCovers: "use a later date, or add a key active from that date or earlier"
        case .unknownKeyID: "use the id of one of the keyring's keys"
        case .activeFromTaken: "pick another date, or revoke that key"
        case .dateInPast: "choose today or a later date, or allow changing codes for past dates on purpose"
        case .alreadyRevoked: nil
        case .replacementTooLate(_, let latest): "start the replacement on \(latest) or earlier"
        case .replacementBeforeKey(_, let keyStart): "start the replacement on \(keyStart) or later"
        case .replacementAfterKey(_, let nextStart): "start the replacement before \(nextStart)"
        case .exampleKeyring: "create a keyring of your own"
        case .passphraseRequired: "give the keyring's passphrase"
        case .wrongPassphrase: "check the passphrase"
        case .encryptionFailed: "check that the machine has memory to spare (scrypt needs 128 MiB and more)"
        case .randomSourceFailed: nil
        }
    }
}
