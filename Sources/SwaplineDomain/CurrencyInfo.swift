import Foundation

/// What the market knows about one currency: its scale and the limits that apply when it is sold.
///
/// The limits are all in this currency and apply when it is the **source** of an exchange,
/// because Calypso's limits are expressed in the source currency.
public struct CurrencyInfo: Sendable, Equatable {
    /// The currency described.
    public var currency: Currency
    /// Number of decimals amounts in this currency carry (2 for USDT_TRX, 8 for BTC).
    public var scale: Int
    /// Whether the currency is a crypto asset (stablecoins count as crypto), as `exchange/pairs` reports.
    public var isCrypto: Bool
    /// Smallest amount one exchange may sell.
    public var minAmount: Decimal
    /// Largest amount one exchange may sell.
    public var maxAmount: Decimal
    /// Most an account may sell per UTC day, failed exchanges not counted.
    public var dailyLimit: Decimal

    /// Creates a currency description; `Market.decode(json:)` validates untrusted values.
    public init(currency: Currency, scale: Int, isCrypto: Bool, minAmount: Decimal, maxAmount: Decimal, dailyLimit: Decimal) {
        self.currency = currency
        self.scale = scale
        self.isCrypto = isCrypto
        self.minAmount = minAmount
        self.maxAmount = maxAmount
        self.dailyLimit = dailyLimit
    }

    /// One unit of the last decimal place (0.01 at scale 2), the step between adjacent amounts.
    public var unit: Decimal {
        Decimal(sign: .plus, exponent: -scale, significand: 1)
    }
}
