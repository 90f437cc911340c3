import Foundation

/// When a failed delivery is tried again: Calypso's schedule by default (19 retries, Fibonacci-like,
/// the last gap about 34.8 h), stretched by up to `jitter` so that endpoints coming back are not
/// hit by every queued delivery in the same second. A `Retry-After` (429, 503) is honoured instead.
public struct RetryPolicy: Sendable, Equatable {
    /// The delay before each retry, in seconds; a delivery dies after `delays.count` retries.
    public var delays: [Double]
    /// The largest fraction a delay is stretched by (0.1: up to 10 % later, never earlier).
    public var jitter: Double

    public static let calypsoDelays: [Double] = [
        30, 30, 60, 90, 150, 240, 390, 630, 1020, 1650, 2670, 4320, 6990, 11310, 18300, 29610, 47910, 77520, 125430,
    ]
    public static let calypso = RetryPolicy(delays: calypsoDelays, jitter: 0.1)
    /// The most a receiver's `Retry-After` can postpone a retry.
    public static let longestRetryAfter: Double = 86_400

    public init(delays: [Double], jitter: Double = 0.1) {
        self.delays = delays
        self.jitter = jitter
    }

    /// Seconds until the next try after the `attempt`-th failure in a row (1-based), or nil when
    /// the retries are used up. `retryAfter` (seconds the receiver asked for) replaces the
    /// schedule's delay, capped at a day.
    public func delay(afterFailure attempt: Int, retryAfter: Double? = nil, random: Double = Double.random(in: 0..<1)) -> Double? {
        guard attempt >= 1, attempt <= delays.count else { return nil }
        if let retryAfter { return min(max(retryAfter, 0), Self.longestRetryAfter) }
        return delays[attempt - 1] * (1 + jitter * random)
    }

    /// `Retry-After` as seconds: delay-seconds or an HTTP date; nil when absent or unreadable.
    public static func retryAfterSeconds(_ header: String?, now: Date) -> Double? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int(text), seconds >= 0 { return Double(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
