import ArgumentParser
import DeliveryOTP
import DeliveryOTPServer
import Foundation
import Logging

extension DeliveryOTPCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the online code service (HTTP API v1, see openapi.yaml and docs/service.md).",
            discussion: """
                Serves codes to issuers, verifies online for couriers against one shared attempt \
                limit, hands day keys to devices and takes their attempt logs. Plain HTTP: bind it to \
                loopback (the default) and terminate TLS in front of it. Logs are JSON lines on \
                standard error. SIGHUP reloads the keyring, tokens and scopes (they are also reloaded \
                when they change on disk); SIGTERM or SIGINT finishes the requests in flight and stops. \
                Day-key exports are appended to the keyring's audit log (KEYRING.audit.jsonl), so the \
                keyring's folder must be writable. Attempts are counted in a SQLite file (one machine) or, \
                with --state postgres://USER@HOST:PORT/DATABASE, in PostgreSQL, which several replicas \
                share (docs/deployment.md).
                """
        )

        @Option(name: .long, help: ArgumentHelp("The keyring file (plain or encrypted).", valueName: "file"))
        var keyring: String

        @OptionGroup var passphrase: PassphraseOptions

        @Option(name: .long, help: ArgumentHelp("The tokens file ('delivery-otp tokens add').", valueName: "file"))
        var tokens: String

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: ArgumentHelp("A JSON file mapping scopes to time zones (see docs/service.md).", valueName: "file"))
        var scopes: String?

        @Option(
            name: .customLong("time-zone"),
            help: ArgumentHelp("The time zone of every scope when there is no --scopes file.", valueName: "tz"))
        var timeZone: String = "UTC"

        @Option(name: .long, help: ArgumentHelp("Where to listen, HOST:PORT (port 0 picks a free one).", valueName: "host:port"))
        var listen: String = "127.0.0.1:8080"

        @Option(name: .customLong("issue-ahead-days"), help: ArgumentHelp("How many days ahead codes may be fetched.", valueName: "n"))
        var issueAheadDays: Int = 2

        @Option(name: .customLong("attempt-limit"), help: ArgumentHelp("Wrong codes per shipment and day, 1 to 10.", valueName: "n"))
        var attemptLimit: Int = 5

        @Option(
            name: .customLong("rate-limit"),
            help: ArgumentHelp("Requests a second per token, on average (0 for none; default 200).", valueName: "n"))
        var rateLimit: Double?

        @Option(
            name: .customLong("rate-burst"), help: ArgumentHelp("Requests a token may send at once (default 400).", valueName: "n"))
        var rateBurst: Double?

        @Option(
            name: .customLong("event-loops"),
            help: ArgumentHelp(
                "Threads that serve connections, \(EventLoops.allowed.lowerBound) to \(EventLoops.allowed.upperBound)"
                    + " (default: one per core, or NIO_SINGLETON_GROUP_LOOP_COUNT).",
                valueName: "n"))
        var eventLoops: Int?

        @Flag(name: .customLong("allow-example-keys"), help: "Serve the published example keys and tokens (for trying the service only).")
        var allowExampleKeys = false

        @OptionGroup var clock: ClockOptions

        func validate() throws {
            guard (0...30).contains(issueAheadDays) else { throw ValidationError("--issue-ahead-days must be 0 to 30") }
            guard (1...10).contains(attemptLimit) else { throw ValidationError("--attempt-limit must be 1 to 10, not \(attemptLimit)") }
            guard (rateLimit ?? 0) >= 0, rateLimit?.isFinite ?? true, (rateBurst ?? 1) >= 1, rateBurst?.isFinite ?? true else {
                throw ValidationError("--rate-limit must be 0 or more and --rate-burst 1 or more")
            }
            if let eventLoops, !EventLoops.allowed.contains(eventLoops) {
                throw ValidationError(
                    "--event-loops must be \(EventLoops.allowed.lowerBound) to \(EventLoops.allowed.upperBound), not \(eventLoops)")
            }
        }

        /// HOST:PORT, with [v6]:PORT.
        static func address(_ text: String) throws -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
                throw CommandFailure(
                    message: "invalid --listen \(text.debugDescription)", hint: "write HOST:PORT, such as 127.0.0.1:8080", exitCode: .usage)
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else {
                throw CommandFailure(message: "--listen needs a host", hint: "such as 127.0.0.1:8080", exitCode: .usage)
            }
            return (host, port)
        }

        func run() throws {
            // First: SwiftNIO reads the count when its shared loops start (the PostgreSQL client
            // or the HTTP server starts them).
            if let eventLoops { EventLoops.use(eventLoops) }
            let (host, port) = try Self.address(listen)
            // A wrong --state URL is refused before anything is loaded or logged.
            _ = try store.location()
            let zone = try DeliveryTimeZone(timeZone)
            var limits = ServiceLimits()
            limits.issueAheadDays = issueAheadDays
            limits.attemptLimit = attemptLimit
            limits.ratePerSecond = rateLimit ?? 200
            limits.rateBurst = rateBurst ?? 400
            let clockSource: @Sendable () -> Timestamp
            if clock.now != nil {
                let fixed = try clock.instant()
                clockSource = { fixed }
            } else {
                clockSource = { .now }
            }
            let configuration = ServiceConfiguration(
                keyringPath: keyring, passphrase: try passphrase.passphrase(), tokensPath: tokens, scopesPath: scopes,
                defaultZone: zone, limits: limits, allowExampleKeys: allowExampleKeys,
                clock: clockSource)

            // The parent may have blocked these (a spawning thread's mask is inherited); the service handles them.
            var set = sigset_t()
            sigemptyset(&set)
            for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, signal) }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            signal(SIGPIPE, SIG_IGN)

            LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
            let logger = Logger(label: "delivery-otp")
            let metrics = ServiceMetrics()
            let serviceState = try ServiceState(configuration: configuration, metrics: metrics, logger: logger)
            if serviceState.isServingExampleKeys {
                logger.warning("example keys: never use them in production", metadata: ["event": "example-keys"])
            }
            let store = try self.store.open(logger: logger, onBatch: { metrics.groupCommit($0) })
            let service = DeliveryOTPService(state: serviceState, store: store, logger: logger)
            ProcessLifetime.keep(service)
            if !PostgresLocation.isLoopback(host) {
                logger.warning(
                    "listening beyond loopback: terminate TLS in front of the service (docs/service.md shows nginx)",
                    metadata: ["event": "plain-http"])
            }
            do {
                try Blocking.run {
                    try await service.run(host: host, port: port) { bound in
                        logger.info("listening", metadata: ["event": "listening", "address": .string("http://\(host):\(bound)")])
                    }
                }
            } catch {
                let text = String(describing: error)
                if text.contains("Address already in use") {
                    throw CommandFailure(
                        message: "cannot listen on \(listen): the address is already in use",
                        hint: "stop the other process, or choose another port with --listen", exitCode: .systemError)
                }
                if text.contains("Cannot assign requested address") {
                    throw CommandFailure(
                        message: "cannot listen on \(listen): no such address on this machine",
                        hint: "use 127.0.0.1 or an address of this machine", exitCode: .usage)
                }
                throw CommandFailure(message: "the service stopped: \(text)", exitCode: .systemError)
            }
        }
    }
}
