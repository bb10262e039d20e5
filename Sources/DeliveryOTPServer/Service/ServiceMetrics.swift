import DeliveryOTP
import Prometheus
import Synchronization

/// The service's metrics, in one Prometheus registry served at `/metrics`. Labels hold routes,
/// statuses, outcomes and key ids, never a token, a shipment or a code.
public final class ServiceMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let batchSizes: ValueHistogram
    /// The batch histogram's buckets, a constant so that a global holds them too. The registry
    /// (swift-prometheus 2.4) keeps them in `HistogramBuckets.value`, the second case of an enum
    /// whose tag bit is set in the pointer's spare bits, which LeakSanitizer cannot follow: held
    /// only there, the array was reported as leaked whenever the service was alive at exit.
    /// (Duration histograms use the first case, tag 0, a plain pointer.)
    private static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    private let lockouts: Counter
    private let reloads: Counter
    private let reloadFailures: Counter

    /// A registry with the service's fixed metrics registered.
    public init() {
        batchSizes = registry.makeValueHistogram(
            descriptor: Self.name("group_commit_batch", unit: "attempts", "Writes committed together by one fsync."),
            buckets: Self.batchBuckets)
        lockouts = registry.makeCounter(
            descriptor: Self.name("lockouts", unit: "total", "Shipments locked for the day by the attempt limit."))
        reloads = registry.makeCounter(descriptor: Self.name("reloads", unit: "total", "Keyring, tokens or scopes files reloaded."))
        reloadFailures = registry.makeCounter(
            descriptor: Self.name("reload_failures", unit: "total", "Reloads that failed; the previous version kept serving."))
    }

    private static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "delivery_otp", metricName: metric, unitName: unit, helpText: help)
    }

    private struct RequestKey: Hashable {
        let route: String, method: String, status: Int
    }
    /// The request metrics already registered, so a request costs one dictionary lookup, not a registration.
    private let requestMetrics = Locked<[RequestKey: (Counter, DurationHistogram)]>([:])

    /// Counts a request and records its latency.
    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let (counter, histogram) = requestMetrics.withLock { cache in
            if let found = cache[key] { return found }
            let made = (
                registry.makeCounter(
                    descriptor: Self.name("requests", unit: "total", "HTTP requests by route and status."),
                    labels: [("route", route), ("method", method), ("status", String(status))]),
                registry.makeDurationHistogram(
                    descriptor: Self.name("request_duration", unit: "seconds", "HTTP request latency by route."),
                    labels: [("route", route)],
                    buckets: [
                        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
                    ])
            )
            cache[key] = made
            return made
        }
        counter.increment()
        histogram.record(duration)
    }

    /// The verify outcome counters already registered: a verify costs one dictionary lookup, not a
    /// registration (the registry's own lookup builds the labels' key and takes its lock).
    private let outcomeCounters = Locked<[String: Counter]>([:])

    /// Counts a verify outcome (`accepted`, `rejected`, `locked`, `alreadyAccepted`).
    func verify(outcome: String) {
        let counter = outcomeCounters.withLock { cache in
            if let found = cache[outcome] { return found }
            let made = registry.makeCounter(
                descriptor: Self.name("verify_outcomes", unit: "total", "Online verifies by outcome."), labels: [("outcome", outcome)])
            cache[outcome] = made
            return made
        }
        counter.increment()
    }

    /// Counts a lockout (the attempt that reached the limit).
    func lockout() { lockouts.increment() }

    /// Records a group commit's size.
    public func groupCommit(_ size: Int) { batchSizes.record(Double(size)) }

    /// Counts a reload, or a failed one.
    func reload(failed: Bool) { (failed ? reloadFailures : reloads).increment() }

    /// Sets the key id that serves today's codes (a gauge at 1 for that id, 0 for the one before).
    func keyInUse(_ id: String, previous: String?) {
        let descriptor = Self.name("key_in_use", unit: "info", "The master key that serves today's codes (1).")
        if let previous, previous != id { registry.makeGauge(descriptor: descriptor, labels: [("key_id", previous)]).set(to: 0) }
        registry.makeGauge(descriptor: descriptor, labels: [("key_id", id)]).set(to: 1)
    }

    /// The Prometheus text exposition.
    func render() -> [UInt8] { registry.emitToBuffer() }
}
