import Foundation

/// The machine-readable reason a `FAILED` exchange records (`failureReason` in the API).
public enum FailureReason: String, Sendable, Codable, CaseIterable {
    /// The quote's time ran out before execution.
    case quoteExpired = "QUOTE_EXPIRED"
    /// The execution rate was worse than the quoted one by more than the market's tolerance.
    case rateMoved = "RATE_MOVED"
    /// The venue refused the order.
    case venueRejected = "VENUE_REJECTED"
    /// The venue never filled the order before the deadline.
    case venueTimeout = "VENUE_TIMEOUT"
    /// The venue (or the house) lacked the destination funds.
    case insufficientLiquidity = "INSUFFICIENT_LIQUIDITY"
    /// The pair was switched off between creation and execution.
    case pairDisabled = "PAIR_DISABLED"
}
