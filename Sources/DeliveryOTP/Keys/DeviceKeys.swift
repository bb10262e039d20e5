import Foundation

/// The day keys a courier device holds: one scope, a few days, no master
/// secret (device-key file format v1, SPEC.md §7).
public struct DeviceKeys: Sendable {
    static let formatName = "delivery-otp-device-keys"
    static let currentVersion = 1
    /// The most days one set of device keys may cover: 7.
    public static let maximumDays = 7

    /// One day's key and the id of the master key it was derived from.
    public struct Entry: Sendable {
        /// The id of the master key the day key was derived from.
        public let keyID: KeyID
        /// The day key itself.
        public let dayKey: DayKey
        /// The date the day key is for.
        public var date: DeliveryDate { dayKey.date }
    }

    /// The scope of every day key in the set.
    public let scope: Scope
    /// The time zone that decides which day it is on the device.
    public let timeZone: DeliveryTimeZone
    /// Sorted by date, one per date.
    public let entries: [Entry]
    /// Derived from the published example keys: marked `"example": true`, or holding a day key that
    /// the published example secrets derive (the mark alone could be removed). Never for production.
    public let isExample: Bool
    /// Wrong codes allowed per shipment and day on the device (1 to 10); nil for the default, 5.
    public let attemptLimit: Int?
    /// The device's name in its attempt log.
    public let deviceID: DeviceID?

    /// Derives the day keys for `scope` and `days` consecutive dates from `start` (spec §1).
    public init(
        keyring: Keyring, scope: Scope, from start: DeliveryDate, days: Int, timeZone: DeliveryTimeZone,
        attemptLimit: Int? = nil, deviceID: DeviceID? = nil
    ) throws(DeviceKeysError) {
        if let attemptLimit, !(1...10).contains(attemptLimit) { throw .attemptLimit(attemptLimit) }
        guard (1...Self.maximumDays).contains(days) else { throw .dayCount(days) }
        var entries: [Entry] = []
        for offset in 0..<days {
            guard let date = start.adding(days: offset) else { throw .dayCount(days) }
            do {
                let (dayKey, keyID) = try keyring.dayKey(scope: scope, date: date)
                entries.append(Entry(keyID: keyID, dayKey: dayKey))
            } catch {
                throw .keyring(error)
            }
        }
        self.scope = scope
        self.timeZone = timeZone
        self.entries = entries
        self.isExample = keyring.isExample
        self.attemptLimit = attemptLimit
        self.deviceID = deviceID
    }

    /// Parses and validates device keys from the bytes of a device-key file (format v1,
    /// SPEC.md §7), for keys that arrive over the network or live in a keychain.
    ///
    /// No permission is checked (there is no file). The secrets are copied into wiped-on-release
    /// storage; the caller's `bytes` are left as they are (see ``SecretBuffer``).
    public init(json bytes: some ContiguousBytes) throws(DeviceKeysError) {
        let result: Result<DeviceKeys, DeviceKeysError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(DeviceKeysError) in try DeviceKeys(parsing: buffer) }
        }
        self = try result.get()
    }

    /// Calls `body` with the device-key file (format v1) as bytes, then wipes them.
    public func withJSON<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var text = jsonText()
        return try text.consumeTyped(body)
    }

    /// The device-key file (format v1) as bytes. They hold the day keys' secrets: wipe them
    /// with ``SecretBuffer`` when done, or use ``withJSON(_:)``.
    public func jsonBytes() -> [UInt8] {
        jsonText().bytes
    }

    /// Parses and validates a device-key file in place.
    init(parsing bytes: UnsafeRawBufferPointer) throws(DeviceKeysError) {
        let data = Data(
            bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!),
            count: bytes.count, deallocator: .none)
        struct Header: Decodable { var format: String?; var version: Int? }
        struct Document: Decodable {
            struct Record: Decodable { var date: String; var keyId: String; var secret: SecretText }
            var example: Bool?
            var attemptLimit: Int?
            var deviceId: String?
            var scope: String
            var timeZone: String
            var dayKeys: [Record]
        }
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data) else { throw .notJSON }
        guard header.format == Self.formatName else { throw .wrongFormat(found: header.format) }
        guard header.version == Self.currentVersion else { throw .unsupportedVersion(header.version ?? 0) }
        switch JSONDuplicateMembers.check(bytes) {
        case .duplicate(let path): throw .invalidField(path, "given twice; each member may appear once")
        case .unreadable: throw .notJSON
        case nil: break
        }
        let document: Document
        do { document = try decoder.decode(Document.self, from: data) } catch {
            throw .invalidField(DecodingErrorText.path(of: error, root: "device keys"), DecodingErrorText.describe(error))
        }
        do { scope = try Scope(document.scope) } catch { throw .invalidField("scope", error.description) }
        do { timeZone = try DeliveryTimeZone(document.timeZone) } catch { throw .invalidField("timeZone", error.description) }
        var entries: [Entry] = []
        for (index, record) in document.dayKeys.enumerated() {
            let path = "dayKeys[\(index)]"
            let date: DeliveryDate, keyID: KeyID
            do { date = try DeliveryDate(record.date) } catch { throw .invalidField("\(path).date", error.description) }
            do { keyID = try KeyID(record.keyId) } catch { throw .invalidField("\(path).keyId", error.description) }
            guard let secret = CanonicalBase64.withDecoded(record.secret.text, { SecretKey(copying: $0) }) else {
                throw .invalidField("\(path).secret", "not canonical standard base64 (padded, no spaces, unused bits zero)")
            }
            do {
                entries.append(Entry(keyID: keyID, dayKey: try DayKey(secret: secret, scope: scope, date: date)))
            } catch {
                throw .invalidField("\(path).secret", error.description)
            }
            if entries.dropLast().contains(where: { $0.date == date }) { throw .invalidField(path, "a second key for \(date)") }
        }
        self.entries = entries.sorted { $0.date < $1.date }
        // Day keys of the published example keys count as example keys even where the flag was removed.
        let scope = self.scope
        let published = self.entries.contains { entry in
            Keyring.publishedExampleSecrets.contains {
                DayKey(masterSecret: $0, scope: scope, date: entry.date).secret == entry.dayKey.secret
            }
        }
        isExample = (document.example ?? false) || published
        if let limit = document.attemptLimit, !(1...10).contains(limit) {
            throw .invalidField("attemptLimit", "must be 1 to 10, not \(limit)")
        }
        attemptLimit = document.attemptLimit
        do { deviceID = try document.deviceId.map { (text) throws(InputError) in try DeviceID(text) } } catch {
            throw .invalidField("deviceId", error.description)
        }
    }

    /// Reads a device-key file; one that group or others can read is refused, example
    /// or not. An example file comes with the example warning; at the door it is
    /// refused unless the caller allows it (see ``isExample``).
    public static func load(path: String) throws(DeviceKeysError) -> (keys: DeviceKeys, warnings: [String]) {
        let outcome: Result<DeviceKeys, DeviceKeysError>
        do throws(SecretFile.ReadError) {
            outcome = try SecretFile.withContents(of: path) { (bytes, permissions) throws(DeviceKeysError) -> DeviceKeys in
                let keys: DeviceKeys
                do throws(DeviceKeysError) { keys = try DeviceKeys(parsing: bytes) } catch { throw .inFile(path, error) }
                if !SecretFile.isPrivate(permissions) {
                    throw .readableByOthers(path: path, permissions: permissions)
                }
                return keys
            }
        } catch {
            throw .unreadable(error)
        }
        let keys = try outcome.get()
        return (keys, keys.isExample ? [KeyringFile.exampleWarning] : [])
    }

    /// Writes the file atomically and durably, mode 0600; refuses to replace an existing file unless `replace`.
    public func write(to path: String, replace: Bool) throws(FileWriteError) {
        try withJSON { (bytes) throws(FileWriteError) in
            try AtomicFile.write(bytes, to: path, permissions: 0o600, mode: replace ? .replace : .createNew)
        }
    }

    /// The day key for `date`, refusing another scope or a date the file does not hold.
    public func dayKey(scope requested: Scope, date: DeliveryDate) throws(DeviceKeysError) -> (dayKey: DayKey, keyID: KeyID) {
        guard requested == scope else { throw .wrongScope(requested, holds: scope) }
        guard let entry = entries.first(where: { $0.date == date }) else { throw .noKeyForDate(date, scope: scope) }
        return (entry.dayKey, entry.keyID)
    }

    /// Device-key file format v1, fields in the order of SPEC.md §7. Holds secrets: wipe after writing.
    func jsonText() -> JSONText {
        var text = JSONText()
        text.raw("{\n  \"format\": ")
        text.string(Self.formatName)
        text.raw(",\n  \"version\": \(Self.currentVersion),\n")
        if isExample { text.raw("  \"example\": true,\n") }
        text.raw("  \"scope\": ")
        text.string(scope.rawValue)
        text.raw(",\n  \"timeZone\": ")
        text.string(timeZone.identifier)
        if let attemptLimit { text.raw(",\n  \"attemptLimit\": \(attemptLimit)") }
        if let deviceID {
            text.raw(",\n  \"deviceId\": ")
            text.string(deviceID.rawValue)
        }
        text.raw(",\n  \"dayKeys\": [")
        for (index, entry) in entries.enumerated() {
            text.raw(index == 0 ? "\n    { \"date\": " : ",\n    { \"date\": ")
            text.string(entry.date.description)
            text.raw(", \"keyId\": ")
            text.string(entry.keyID.rawValue)
            text.raw(", \"secret\": ")
            text.base64(entry.dayKey.secret)
            text.raw(" }")
        }
        text.raw(entries.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return text
    }
}

/// Why device keys cannot be made or used.
public enum DeviceKeysError: DeliveryOTPError, Hashable {
    /// A number of days outside 1 to ``DeviceKeys/maximumDays``.
    case dayCount(Int)
    /// An attempt limit outside 1 to 10.
    case attemptLimit(Int)
    /// The keyring has no key for one of the days.
    case keyring(KeyringError)
    /// The bytes are not one JSON object.
    case notJSON
    /// The `format` member is missing or names another kind of file.
    case wrongFormat(found: String?)
    /// A `version` this release does not read.
    case unsupportedVersion(Int)
    /// A member is missing, has the wrong type, or holds an invalid value: its path, and why.
    case invalidField(String, String)
    /// A day key was asked for another scope than the one the keys hold.
    case wrongScope(Scope, holds: Scope)
    /// The keys hold no day key for this date.
    case noKeyForDate(DeliveryDate, scope: Scope)
    /// An error in the file at this path.
    indirect case inFile(String, DeviceKeysError)
    /// The file could not be read.
    case unreadable(FileReadError)
    /// The file can be read by group or others: device keys are secrets.
    case readableByOthers(path: String, permissions: UInt32)

    /// One line for a person.
    public var description: String {
        switch self {
        case .dayCount(let days): "the number of days must be 1 to \(DeviceKeys.maximumDays), not \(days)"
        case .attemptLimit(let limit): "the attempt limit must be 1 to 10, not \(limit)"
        case .keyring(let error): error.description
        case .notJSON: "not a valid device-key file: the file is not valid JSON"
        case .wrongFormat(let found?): "not a delivery-otp device-key file (format is \(Printable.quoted(found)))"
        case .wrongFormat(nil): "not a delivery-otp device-key file (no \"format\" field)"
        case .unsupportedVersion(let version): "device-key file version \(version) is not supported; this release reads version 1"
        case .invalidField(let path, let reason): "\(path): \(reason)"
        case .wrongScope(let requested, let holds):
            "these device keys are for scope \(holds.rawValue.isEmpty ? "(empty)" : holds.rawValue), not \(requested.rawValue.isEmpty ? "(empty)" : requested.rawValue)"
        case .noKeyForDate(let date, let scope):
            "no key for \(date) in \(scope.rawValue.isEmpty ? "(empty scope)" : scope.rawValue) device keys: sync the device"
        case .inFile(let path, let error): "\(path): \(error)"
        case .unreadable(let error): error.description
        case .readableByOthers(let path, let permissions):
            SecretFile.readableByOthers(path, permissions: permissions)
        }
    }

    /// How to fix it.
    public var hint: String? {
        switch self {
        case .keyring(let error): error.hint
        case .noKeyForDate: "export fresh day keys for this device"
        case .wrongScope(_, let holds): "ask for scope \(holds.rawValue), or use the device keys for that scope"
        case .notJSON, .wrongFormat, .invalidField: "compare the file with SPEC.md §7 (device-key file format v1)"
        case .inFile(_, let error): error.hint
        case .unreadable(let error): error.hint
        case .readableByOthers(let path, _): "chmod 600 \(path)"
        default: nil
        }
    }
}
