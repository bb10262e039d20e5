import DeliveryOTP
import Foundation
import Logging
import Synchronization

/// What the service serves from, swapped whole on reload: the keyring, the tokens and the scopes'
/// time zones. Each request reads one snapshot; a reload that fails keeps the previous one.
public final class ServiceState: Sendable {
    /// The configuration it was made with.
    public let configuration: ServiceConfiguration
    private let keys: Locked<KeySnapshot>
    private let tokenTable: Locked<TokenTable>
    private let scopeZones: Locked<ScopeZones>
    private let stamps: Locked<[String: FileVersion]>
    let metrics: ServiceMetrics
    private let logger: Logger

    /// The keyring and its day-key cache. A new keyring gets a new, empty cache.
    final class KeySnapshot: Sendable {
        let keyring: Keyring
        var isExample: Bool { keyring.isExample }
        /// Day keys by (scope, date), derived once each; bounded, cleared when full.
        private let cache = Locked<[CodeIssuer.Slot: (CodeGenerator, KeyID)]>([:])
        static let cacheLimit = 4096

        init(keyring: Keyring) {
            self.keyring = keyring
        }

        func generator(scope: Scope, date: DeliveryDate) throws(KeyringError) -> (CodeGenerator, KeyID) {
            let slot = CodeIssuer.Slot(scope: scope, date: date)
            if let found = cache.withLock({ $0[slot] }) { return found }
            let (dayKey, keyID) = try keyring.dayKey(scope: scope, date: date)
            let entry = (CodeGenerator(dayKey: dayKey), keyID)
            cache.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[slot] = entry
            }
            return entry
        }
    }

    /// Loads every file; any failure here stops the start, with the file's own error.
    public init(configuration: ServiceConfiguration, metrics: ServiceMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        let keyring = try Self.loadKeyring(configuration)
        keys = Locked(KeySnapshot(keyring: keyring))
        tokenTable = Locked(try Self.loadTokens(configuration, keyringIsExample: keyring.isExample))
        scopeZones = Locked(try Self.loadScopes(configuration))
        stamps = Locked(Self.currentStamps(configuration))
        refreshKeyInUse()
    }

    static func loadKeyring(_ configuration: ServiceConfiguration) throws -> Keyring {
        // The published examples are readable by all in a fresh clone; whether they are served at all
        // is decided next, so that their refusal names the real reason rather than the permissions.
        let loaded = try KeyringFile(path: configuration.keyringPath).load(passphrase: configuration.passphrase, exampleMayBeShared: true)
        if loaded.keyring.isExample && !configuration.allowExampleKeys { throw ExampleKeysRefused(what: "keyring") }
        return loaded.keyring
    }

    /// The tokens file. Published example tokens are served only with `--allow-example-keys` and only
    /// beside the example keyring: beside real keys they would hand real codes and day keys to anyone.
    static func loadTokens(_ configuration: ServiceConfiguration, keyringIsExample: Bool) throws -> TokenTable {
        let table = try TokenFile(path: configuration.tokensPath).load(exampleMayBeShared: true)
        if table.isExample && !(configuration.allowExampleKeys && keyringIsExample) {
            throw ExampleKeysRefused(what: configuration.allowExampleKeys ? "tokens beside real keys" : "tokens file")
        }
        return table
    }

    static func loadScopes(_ configuration: ServiceConfiguration) throws -> ScopeZones {
        guard let path = configuration.scopesPath else { return ScopeZones(defaultZone: configuration.defaultZone) }
        return try ScopeZones.load(path: path)
    }

    private struct ZoneDate: Hashable {
        let zone: DeliveryTimeZone
        let date: DeliveryDate
    }
    /// `validUntil` texts already computed (a calendar computation each); bounded, cleared when full.
    private let endOfDayCache = Locked<[ZoneDate: String]>([:])

    /// The last second of `date` in `zone`, as RFC 3339 with the zone's offset.
    func validUntil(_ date: DeliveryDate, in zone: DeliveryTimeZone) -> String {
        let key = ZoneDate(zone: zone, date: date)
        if let found = endOfDayCache.withLock({ $0[key] }) { return found }
        let text = zone.format(zone.endOfDay(date))
        endOfDayCache.withLock { cache in
            if cache.count >= 1024 { cache.removeAll(keepingCapacity: true) }
            cache[key] = text
        }
        return text
    }

    /// Whether the keyring served is the published example.
    public var isServingExampleKeys: Bool { keySnapshot.isExample }

    /// The current keyring snapshot.
    var keySnapshot: KeySnapshot { keys.withLock { $0 } }
    /// The current tokens.
    var tokens: TokenTable { tokenTable.withLock { $0 } }
    /// The current time zones.
    var zones: ScopeZones { scopeZones.withLock { $0 } }
    /// Now, by the configured clock.
    var now: Timestamp { configuration.clock() }

    /// The id of the key that served today when the gauge was last set.
    private let keyInUse = Locked<String?>(nil)

    /// Sets the key-in-use gauge to the key that serves today (default zone): at start, after a
    /// reload, and before each `/metrics` answer, so a key that takes over at midnight shows at once.
    func refreshKeyInUse() {
        let today = zones.defaultZone.date(at: now)
        guard let id = (try? keySnapshot.keyring.key(for: today))?.id.rawValue else { return }
        let previous = keyInUse.withLock { current in
            defer { current = id }
            return current
        }
        if previous != id { metrics.keyInUse(id, previous: previous) }
    }

    // MARK: Reloading

    /// A file's version as last seen: its stamp, or nil while it is missing (so a deleted file is
    /// reported once, not at every check).
    struct FileVersion: Hashable, Sendable {
        let stamp: FileStamp?
    }

    /// What identifies a file's version: its inode, size and modification and change times.
    struct FileStamp: Hashable, Sendable {
        var device: UInt64, inode: UInt64, size: Int64, modified: Int64, modifiedNanos: Int64, changed: Int64, changedNanos: Int64
        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec)
            modifiedNanos = Int64(info.st_mtim.tv_nsec)
            changed = Int64(info.st_ctim.tv_sec)
            changedNanos = Int64(info.st_ctim.tv_nsec)
        }
    }

    private static func currentStamps(_ configuration: ServiceConfiguration) -> [String: FileVersion] {
        var stamps: [String: FileVersion] = [:]
        for path in [configuration.keyringPath, configuration.tokensPath] + (configuration.scopesPath.map { [$0] } ?? []) {
            stamps[path] = FileVersion(stamp: FileStamp(path))
        }
        return stamps
    }

    /// Reloads the files that changed on disk since they were last read (all of them when
    /// `force`, as on SIGHUP). A file that fails to load keeps its previous version: one error
    /// line is logged and the failure metric counted. Returns whether everything reloaded.
    @discardableResult
    public func reload(force: Bool) -> Bool {
        // SIGHUP and the file check may ask at once: one reload at a time, so an older version
        // can never replace a newer one.
        reloadLock.withLock { _ in reloadLocked(force: force) }
    }

    private let reloadLock = Locked(())

    private func reloadLocked(force: Bool) -> Bool {
        let current = Self.currentStamps(configuration)
        let previous = stamps.withLock { $0 }
        func changed(_ path: String?) -> Bool { path.map { force || current[$0] != previous[$0] } ?? false }
        var ok = true
        var loaded: [String: FileVersion] = [:]
        func attempt(_ what: String, _ path: String, _ body: () throws -> Void) {
            do {
                try body()
                loaded[path] = current[path]
                metrics.reload(failed: false)
                logger.info("reloaded", metadata: ["event": "reload", "file": .string(what)])
            } catch {
                ok = false
                // Not retried until the file changes again (or SIGHUP): one error line per bad version.
                loaded[path] = current[path]
                metrics.reload(failed: true)
                logger.error(
                    "reload failed; still serving the previous version",
                    metadata: ["event": "reload", "file": .string(what), "reason": .string(Self.oneLine(error))])
            }
        }
        if changed(configuration.keyringPath) {
            attempt("keyring", configuration.keyringPath) {
                let keyring = try Self.loadKeyring(configuration)
                if tokens.isExample && !keyring.isExample { throw ExampleKeysRefused(what: "tokens beside real keys") }
                keys.withLock { $0 = KeySnapshot(keyring: keyring) }
                refreshKeyInUse()
            }
        }
        if changed(configuration.tokensPath) {
            attempt("tokens", configuration.tokensPath) {
                let table = try Self.loadTokens(configuration, keyringIsExample: keySnapshot.isExample)
                tokenTable.withLock { $0 = table }
            }
        }
        if changed(configuration.scopesPath), let path = configuration.scopesPath {
            attempt("scopes", path) {
                let zones = try Self.loadScopes(configuration)
                scopeZones.withLock { $0 = zones }
            }
        }
        stamps.withLock { stamps in
            for (path, stamp) in loaded { stamps[path] = stamp }
        }
        return ok
    }

    /// An error as one line, from its description (errors here never hold a secret).
    static func oneLine(_ error: any Error) -> String {
        let text = (error as? any DeliveryOTPError).map(\.description) ?? "\(error)"
        return text.split(separator: "\n").first.map(String.init) ?? text
    }
}

/// The keyring is the published example, and `--allow-example-keys` was not given.
public struct ExampleKeysRefused: DeliveryOTPError {
    /// `keyring`, `tokens file`, or `tokens beside real keys`.
    public let what: String
    /// One line.
    public var description: String {
        switch what {
        case "keyring": "the keyring holds the published example keys; anyone can compute their codes"
        case "tokens file": "the tokens file holds published example tokens; anyone can use them"
        default: "the tokens file holds published example tokens, and the keyring is not the example: anyone could use them on real keys"
        }
    }
    /// How to fix it.
    public var hint: String? {
        switch what {
        case "keyring": "use a keyring of your own ('delivery-otp keys init'), or --allow-example-keys to try the service"
        case "tokens file": "make tokens of your own ('delivery-otp tokens add'), or --allow-example-keys to try the service"
        default: "make tokens of your own with 'delivery-otp tokens add'"
        }
    }
}
