import Foundation
import SwaplineDomain

/// The exchange object of the API, as the read model (or an aggregate just decided) has it.
public struct ExchangeView: Sendable, Equatable {
    public var id: ExchangeID
    public var account: AccountID
    public var pair: CurrencyPair
    public var direction: Direction
    public var sourceAmount: Decimal
    public var destinationAmount: Decimal
    public var rate: Decimal
    public var fee: Decimal
    /// IN_PROGRESS, COMPLETED or FAILED.
    public var state: String
    public var failureReason: FailureReason?
    public var createdAt: Date
    public var updatedAt: Date

    public init(_ state: ExchangeState) {
        let price = state.request.price
        self.id = state.id
        self.account = state.request.account
        self.pair = price.pair
        self.direction = price.direction
        self.sourceAmount = state.completed?.sourceAmount ?? price.sourceAmount
        self.destinationAmount = state.completed?.destinationAmount ?? price.destinationAmount
        self.rate = price.rate
        self.fee = price.fee
        self.state = state.status.publicState
        self.failureReason = state.failureReason
        self.createdAt = state.request.requestedAt
        self.updatedAt = state.updatedAt
    }

    public init(
        id: ExchangeID, account: AccountID, pair: CurrencyPair, direction: Direction, sourceAmount: Decimal, destinationAmount: Decimal,
        rate: Decimal, fee: Decimal, state: String, failureReason: FailureReason?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.account = account
        self.pair = pair
        self.direction = direction
        self.sourceAmount = sourceAmount
        self.destinationAmount = destinationAmount
        self.rate = rate
        self.fee = fee
        self.state = state
        self.failureReason = failureReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
