import Foundation

/// Where an exchange is in its life; the last event applied decides it.
public enum ExchangeStatus: String, Sendable, Codable {
    /// Created, funds held, waiting for the execution worker.
    case requested
    /// Execution rate fixed.
    case quoted
    /// Sent to the venue; its outcome is pending.
    case submitted
    /// Settled at the requested amounts.
    case completed
    /// Failed; the hold is released.
    case failed

    /// The Calypso `state`: every non-terminal status is `IN_PROGRESS` to clients.
    public var publicState: String {
        switch self {
        case .requested, .quoted, .submitted: return "IN_PROGRESS"
        case .completed: return "COMPLETED"
        case .failed: return "FAILED"
        }
    }

    /// Whether nothing can happen to the exchange any more.
    public var isTerminal: Bool {
        self == .completed || self == .failed
    }
}
