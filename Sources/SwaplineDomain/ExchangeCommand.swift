import Foundation

/// What can be asked of an exchange.
public enum ExchangeCommand: Sendable {
    /// Create it (the caller priced it and holds the funds in the same transaction).
    case request(ExchangeRequested)
    /// Fix the execution rate.
    case quote(executionRate: Decimal, at: Date)
    /// Record the venue submission.
    case submit(clientOrderId: String, at: Date)
    /// Settle at the requested amounts.
    case complete(at: Date)
    /// Fail it, for a recorded reason.
    case fail(FailureReason, detail: String?, at: Date)

    /// The command's name in `DomainError.illegalTransition`.
    public var name: String {
        switch self {
        case .request: return "request"
        case .quote: return "quote"
        case .submit: return "submit"
        case .complete: return "complete"
        case .fail: return "fail"
        }
    }
}
