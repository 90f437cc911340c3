import Synchronization

/// A token bucket per API key, in this process only: each API node allows `ratePerSecond` per key
/// (with bursts of `burst`), so a cluster of n nodes allows n × that. A bucket starts full, gains
/// `ratePerSecond` tokens a second up to `burst`, and each request takes one.
///
/// Buckets live in a dictionary behind a mutex. A bucket that has had time to fill up again is the
/// same as no bucket, so such idle buckets are pruned: when the dictionary has doubled since the
/// last pruning, or a minute has passed. Memory is therefore bounded by the keys seen within the
/// time a bucket takes to refill (`burst / ratePerSecond`), whatever `Key` values clients send.
public final class KeyRateLimiter: Sendable {
    /// The outcome of one request.
    public enum Decision: Equatable, Sendable {
        case allowed
        /// Refused; a token will be there after this many seconds (whole, at least 1).
        case refused(retryAfterSeconds: Int)
    }

    public let ratePerSecond: Double
    public let burst: Double
    /// Seconds on a monotonic clock; tests pass one they move by hand.
    private let now: @Sendable () -> Double
    private let state: Mutex<State>

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private struct State {
        var buckets: [String: Bucket] = [:]
        var lastPruned: Double
        var pruneAtCount: Int
    }

    static let minimumPruneCount = 1024
    static let pruneIntervalSeconds = 60.0

    /// - Parameters:
    ///   - ratePerSecond: tokens added per second, greater than 0.
    ///   - burst: the most tokens a bucket holds, at least 1.
    ///   - now: seconds on a monotonic clock; by default the process's `ContinuousClock`.
    public init(ratePerSecond: Double, burst: Int, now: (@Sendable () -> Double)? = nil) {
        precondition(ratePerSecond > 0 && ratePerSecond.isFinite, "the rate must be positive")
        precondition(burst >= 1, "the burst must be at least 1")
        self.ratePerSecond = ratePerSecond
        self.burst = Double(burst)
        let clock = now ?? Self.monotonicSeconds
        self.now = clock
        self.state = Mutex(State(lastPruned: clock(), pruneAtCount: Self.minimumPruneCount))
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there.
    public func acquire(key: String) -> Decision {
        let time = now()
        return state.withLock { state in
            var bucket = state.buckets[key] ?? Bucket(tokens: burst, updated: time)
            bucket.tokens = refilled(bucket, at: time)
            bucket.updated = max(bucket.updated, time)
            let decision: Decision
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                decision = .allowed
            } else {
                let wait = ((1 - bucket.tokens) / ratePerSecond).rounded(.up)
                decision = .refused(retryAfterSeconds: max(1, wait < Double(Int.max) ? Int(wait) : Int.max))
            }
            state.buckets[key] = bucket
            if state.buckets.count >= state.pruneAtCount || time - state.lastPruned >= Self.pruneIntervalSeconds {
                prune(&state, at: time)
            }
            return decision
        }
    }

    /// How many keys have a bucket now (for tests and diagnostics).
    public var trackedKeys: Int { state.withLock { $0.buckets.count } }

    private func refilled(_ bucket: Bucket, at time: Double) -> Double {
        min(burst, bucket.tokens + max(0, time - bucket.updated) * ratePerSecond)
    }

    /// Drops every bucket that is full again: forgetting it changes nothing.
    private func prune(_ state: inout State, at time: Double) {
        state.buckets = state.buckets.filter { refilled($0.value, at: time) < burst }
        state.lastPruned = time
        state.pruneAtCount = max(Self.minimumPruneCount, state.buckets.count * 2)
    }

    private static let origin = ContinuousClock.now

    @Sendable static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
