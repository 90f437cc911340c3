import Foundation

/// An exchange as its events describe it; derived, never stored as truth.
public struct ExchangeState: Sendable, Equatable {
    /// The creation fact: account, pair, amounts, rate, fee.
    public var request: ExchangeRequested
    /// The current status.
    public var status: ExchangeStatus
    /// The rate the worker executes at, once quoted.
    public var executionRate: Decimal?
    /// The venue order id, once submitted.
    public var clientOrderId: String?
    /// Why it failed, once failed.
    public var failureReason: FailureReason?
    /// Operator detail of the failure.
    public var failureDetail: String?
    /// The settlement, once completed.
    public var completed: ExchangeCompleted?
    /// Time of the last event applied (`updatedDate`).
    public var updatedAt: Date

    /// The exchange's id.
    public var id: ExchangeID { request.id }

    /// Creates a state; normally built by `Exchange.replay`.
    public init(
        request: ExchangeRequested,
        status: ExchangeStatus,
        executionRate: Decimal? = nil,
        clientOrderId: String? = nil,
        failureReason: FailureReason? = nil,
        failureDetail: String? = nil,
        completed: ExchangeCompleted? = nil,
        updatedAt: Date
    ) {
        self.request = request
        self.status = status
        self.executionRate = executionRate
        self.clientOrderId = clientOrderId
        self.failureReason = failureReason
        self.failureDetail = failureDetail
        self.completed = completed
        self.updatedAt = updatedAt
    }
}
