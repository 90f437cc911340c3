import Foundation

/// A priced exchange: what the account pays, what it receives, at which rate and fee.
///
/// The fee is **inside** `sourceAmount`: `destinationAmount = roundDown((sourceAmount − fee) × rate)`,
/// so on completion the source balance falls by exactly `sourceAmount` and the destination balance
/// rises by exactly `destinationAmount`. Decimals are JSON strings (see `DomainJSON`).
public struct Price: Sendable, Equatable, Codable {
    /// The pair priced.
    public var pair: CurrencyPair
    /// Whether the request named the amount sold or the amount bought.
    public var direction: Direction
    /// What the account pays, fee included, in the source currency at its scale.
    public var sourceAmount: Decimal
    /// What the account receives, in the destination currency at its scale.
    public var destinationAmount: Decimal
    /// Customer rate (spread applied): destination units per source unit.
    public var rate: Decimal
    /// Fee in the source currency, part of `sourceAmount`.
    public var fee: Decimal

    /// Creates a price; normally produced by `Market.price(_:amountText:direction:now:)`.
    public init(pair: CurrencyPair, direction: Direction, sourceAmount: Decimal, destinationAmount: Decimal, rate: Decimal, fee: Decimal) {
        self.pair = pair
        self.direction = direction
        self.sourceAmount = sourceAmount
        self.destinationAmount = destinationAmount
        self.rate = rate
        self.fee = fee
    }

    private enum CodingKeys: String, CodingKey {
        case pair, direction, sourceAmount, destinationAmount, rate, fee
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        pair = try container.decode(CurrencyPair.self, forKey: .pair)
        direction = try container.decode(Direction.self, forKey: .direction)
        sourceAmount = try container.decodeDecimal(forKey: .sourceAmount)
        destinationAmount = try container.decodeDecimal(forKey: .destinationAmount)
        rate = try container.decodeDecimal(forKey: .rate)
        fee = try container.decodeDecimal(forKey: .fee)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pair, forKey: .pair)
        try container.encode(direction, forKey: .direction)
        try container.encodeDecimal(sourceAmount, forKey: .sourceAmount)
        try container.encodeDecimal(destinationAmount, forKey: .destinationAmount)
        try container.encodeDecimal(rate, forKey: .rate)
        try container.encodeDecimal(fee, forKey: .fee)
    }
}
