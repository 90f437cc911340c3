import Foundation

/// How one currency pair is priced, and whether it may trade at all.
public struct PairRule: Sendable, Equatable {
    /// The pair this rule prices.
    public var pair: CurrencyPair
    /// Mid rate: destination units per one source unit, before spread.
    public var rate: Decimal
    /// When the rate was observed; `nil` means it was fresh when the market was loaded and never ages.
    public var rateAsOf: Date?
    /// Fraction taken off the mid rate against the customer (0.002 = 0.2 %).
    public var spread: Decimal
    /// Fee as a fraction of `sourceAmount`, charged in the source currency.
    public var feeRate: Decimal
    /// Smallest fee charged, in the source currency.
    public var minFee: Decimal
    /// The kill switch: a disabled pair quotes and executes nothing.
    public var isEnabled: Bool

    /// Creates a pricing rule; `Market.decode(json:)` validates untrusted values.
    public init(
        pair: CurrencyPair,
        rate: Decimal,
        rateAsOf: Date? = nil,
        spread: Decimal,
        feeRate: Decimal,
        minFee: Decimal = 0,
        isEnabled: Bool = true
    ) {
        self.pair = pair
        self.rate = rate
        self.rateAsOf = rateAsOf
        self.spread = spread
        self.feeRate = feeRate
        self.minFee = minFee
        self.isEnabled = isEnabled
    }

    /// Decimals kept in customer rates: enough for the smallest rates (TRX/BTC) to stay meaningful.
    public static let rateScale = 12

    /// The rate the customer gets: `mid × (1 − spread)`, rounded down to 12 decimals so the
    /// house never gives away a fraction it did not price.
    public var customerRate: Decimal {
        (rate * (1 - spread)).rounded(scale: PairRule.rateScale, .down)
    }
}
