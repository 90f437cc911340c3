import Foundation
import SwaplineDomain

/// An order as the venue sees it, identified by our client order id.
public struct VenueOrder: Sendable, Equatable {
    public var clientOrderId: String
    public var pair: CurrencyPair
    public var sourceAmount: Decimal
    public var destinationAmount: Decimal

    public init(clientOrderId: String, pair: CurrencyPair, sourceAmount: Decimal, destinationAmount: Decimal) {
        self.clientOrderId = clientOrderId
        self.pair = pair
        self.sourceAmount = sourceAmount
        self.destinationAmount = destinationAmount
    }
}

/// What the venue did with an order.
public enum VenueOrderStatus: Sendable, Equatable {
    /// The venue never received it.
    case unknown
    case pending
    case filled
    case rejected(String)
    case cancelled
}

/// Where exchanges are executed. `submit` is idempotent on the client order id and `status`
/// answers what happened, so a worker that crashed after submitting reconciles instead of
/// executing twice. A real venue adapter plugs in behind this protocol.
public protocol Venue: Sendable {
    func submit(_ order: VenueOrder) async throws -> VenueOrderStatus
    func status(clientOrderId: String) async throws -> VenueOrderStatus
    /// Cancels an order that is still pending and answers its final status (it may have filled).
    func cancel(clientOrderId: String) async throws -> VenueOrderStatus
}
