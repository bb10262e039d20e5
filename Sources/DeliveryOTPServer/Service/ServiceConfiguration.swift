import DeliveryOTP
import Foundation

/// The service's fixed limits; set from `serve`'s options.
public struct ServiceLimits: Sendable {
    /// The largest request body read whole (all but the streamed manifest): 1 MiB.
    public var maximumBodyBytes = 1 << 20
    /// The most shipment IDs in one `POST /v1/codes`.
    public var maximumBatch = 10_000
    /// How many days after today a code may be fetched.
    public var issueAheadDays = 2
    /// Wrong codes per shipment and day before the lock, 1 to 10.
    public var attemptLimit = 5
    /// Requests a second per token, on average (0: no limit).
    public var ratePerSecond: Double = 200
    /// Requests a token may send at once before the rate applies.
    public var rateBurst: Double = 400
    /// The most lines `GET /v1/attempts` answers with at once.
    public var maximumLogLines = 100_000

    /// The defaults.
    public static let `default` = ServiceLimits()

    /// The defaults.
    public init() {}
}

/// What `serve` runs with.
public struct ServiceConfiguration: Sendable {
    /// The keyring file (plain or encrypted).
    public var keyringPath: String
    /// The passphrase of an encrypted keyring.
    public var passphrase: Passphrase?
    /// The tokens file.
    public var tokensPath: String
    /// The scopes file, or nil for every scope in ``defaultZone``.
    public var scopesPath: String?
    /// The zone of scopes without an entry, when there is no scopes file.
    public var defaultZone: DeliveryTimeZone
    /// Limits.
    public var limits: ServiceLimits
    /// Serve the published example keys (with a warning); for trying the service only.
    public var allowExampleKeys: Bool
    /// The clock (tests set one).
    public var clock: @Sendable () -> Timestamp
    /// The folder a manifest's temporary files are made in (and unlinked from at once).
    public var temporaryFolder: String

    /// A configuration; everything but the files has a default (`temporaryFolder`: `TMPDIR`, else `/tmp`).
    public init(
        keyringPath: String, passphrase: Passphrase? = nil, tokensPath: String, scopesPath: String? = nil,
        defaultZone: DeliveryTimeZone, limits: ServiceLimits = .default, allowExampleKeys: Bool = false,
        clock: @escaping @Sendable () -> Timestamp = { .now }, temporaryFolder: String? = nil
    ) {
        self.keyringPath = keyringPath
        self.passphrase = passphrase
        self.tokensPath = tokensPath
        self.scopesPath = scopesPath
        self.defaultZone = defaultZone
        self.limits = limits
        self.allowExampleKeys = allowExampleKeys
        self.clock = clock
        self.temporaryFolder =
            temporaryFolder ?? ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }
}
