import DeliveryOTP
import Foundation
import Synchronization

/// A token bucket per caller: `rate` requests a second on average, bursts of up to `burst`.
final class RateLimiter: Sendable {
    let rate: Double
    let burst: Double
    private let buckets = Locked<[String: Bucket]>([:])
    private let now: @Sendable () -> Double

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    /// No limit when `rate` is 0.
    init(rate: Double, burst: Double, now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.rate = rate
        self.burst = max(1, burst)
        self.now = now
    }

    /// Takes one request's token from `caller`'s bucket; nil when allowed, else the seconds to wait (at least 1).
    func take(_ caller: String) -> Int? {
        guard rate > 0 else { return nil }
        let time = now()
        return buckets.withLock { buckets in
            var bucket = buckets[caller] ?? Bucket(tokens: burst, updated: time)
            bucket.tokens = min(burst, bucket.tokens + (time - bucket.updated) * rate)
            bucket.updated = time
            defer { buckets[caller] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
