import DeliveryOTP
import Hummingbird
import HummingbirdAuth
import Logging
import ServiceLifecycle
import UnixSignals

/// The online code service: the HTTP API over one ``ServiceState`` and one ``ServiceStore``.
///
/// ``router()`` is the whole API (router tests use it directly); ``run(host:port:onRunning:)``
/// serves it with graceful shutdown on SIGTERM or SIGINT (in-flight requests finish, then the
/// store closes) and reloads on SIGHUP or when a file changes on disk.
public struct DeliveryOTPService: Sendable {
    /// The files served from.
    public let state: ServiceState
    /// Where attempts are counted.
    public let store: any ServiceStore
    /// The metrics of `/metrics`.
    public let metrics: ServiceMetrics
    /// Request and event log.
    public let logger: Logger

    /// A service over `state` and `store`.
    public init(state: ServiceState, store: any ServiceStore, logger: Logger) {
        self.state = state
        self.store = store
        self.metrics = state.metrics
        self.logger = logger
    }

    /// Every endpoint, with the error, log, authentication, role and rate-limit middleware.
    public func router() -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: RequestLogMiddleware(metrics: metrics, logger: logger))
        router.add(middleware: TokenAuthenticator(state: state))
        let limits = state.configuration.limits
        let limiter = RateLimiter(rate: limits.ratePerSecond, burst: limits.rateBurst)

        let health = HealthRoutes(state: state, readiness: ReadinessProbe { [store] in await store.isWritable() })
        router.get("/healthz", use: health.live)
        router.get("/readyz", use: health.ready)
        router.get("/metrics", use: health.metrics)

        let codes = CodeRoutes(state: state)
        let manifests = ManifestRoute(state: state, logger: logger)
        router.group("/v1")
            .add(middleware: requireRole(.issuer)).add(middleware: RateLimitMiddleware(limiter: limiter))
            .get("/shipments/{id}/code", use: codes.code)
            .post("/codes", use: codes.batch)
            .post("/manifests", use: manifests.issue)

        let verify = VerifyRoute(state: state, store: store)
        router.group("/v1/verify")
            .add(middleware: requireRole(.courier)).add(middleware: RateLimitMiddleware(limiter: limiter))
            .post(use: verify.verify)

        let device = DeviceRoutes(state: state, store: store)
        router.group("/v1/device-keys")
            .add(middleware: requireRole(.device)).add(middleware: RateLimitMiddleware(limiter: limiter))
            .get(use: device.deviceKeys)
        router.group("/v1/attempts")
            .add(middleware: AttemptsRoleMiddleware(limiter: limiter))
            .post(use: device.upload)
            .get(use: AuditRoutes(state: state, store: store).attempts)
        router.group("/v1/keys")
            .add(middleware: requireRole(.auditor)).add(middleware: RateLimitMiddleware(limiter: limiter))
            .get(use: AuditRoutes(state: state, store: store).keys)
        return router
    }

    /// Serves until SIGTERM or SIGINT. `onRunning` gets the bound port (for `--listen HOST:0`).
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // An idle or stalled connection is closed after 30 s, so it can neither hold a slot forever
        // nor keep a graceful shutdown waiting; the shutdown itself is bounded at 30 s.
        let app = Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(host, port: port), serverName: "delivery-otp"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: StoreService(store: store)),
                .init(service: ReloadService(state: state)),
                .init(service: app),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}

/// `/v1/attempts`: a device uploads (POST), an auditor reads (GET).
struct AttemptsRoleMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let role: Role = request.method == .post ? .device : .auditor
        return try await requireRole(role).handle(request, context: context) { request, context in
            try await RateLimitMiddleware(limiter: limiter).handle(request, context: context, next: next)
        }
    }
}

/// Holds the store open while the service runs; closes it (after the writes queued) at shutdown.
/// Listed first in the service group, so it stops last: after the HTTP server has finished its requests.
struct StoreService: Service {
    let store: any ServiceStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}

/// Reloads the keyring, tokens and scopes on SIGHUP, and when one of them changes on disk (checked every 2 s).
struct ReloadService: Service {
    let state: ServiceState

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals.cancelOnGracefulShutdown() { state.reload(force: true) }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .seconds(2))
                    if Task.isShuttingDownGracefully { break }
                    state.reload(force: false)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
