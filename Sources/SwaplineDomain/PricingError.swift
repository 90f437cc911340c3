import Foundation

/// Why a pair could not be priced; each case maps to one Calypso-style error code.
public enum PricingError: Error, Equatable, Sendable {
    /// A currency the market does not know (100).
    case unknownCurrency(Currency)
    /// The pair is unknown or switched off (100).
    case pairUnavailable(CurrencyPair)
    /// The pair's rate is older than `maxRateAgeSeconds` (107).
    case rateStale(CurrencyPair)
    /// The amount text is not an acceptable amount (001).
    case amount(AmountError)
    /// The source amount is below the minimum, or the exchange would deliver nothing (101).
    case belowMinimum(min: Decimal)
    /// The source amount is above the per-exchange maximum (102).
    case aboveMaximum(max: Decimal)

    /// A sentence for humans (API `message`, CLI output).
    public var message: String {
        switch self {
        case .unknownCurrency(let currency):
            return "unknown currency \(currency)"
        case .pairUnavailable(let pair):
            return "currency pair \(pair) is not available"
        case .rateStale(let pair):
            return "no current rate for \(pair)"
        case .amount(.malformed):
            return "amount is not a plain decimal number"
        case .amount(.notPositive):
            return "amount must be greater than zero"
        case .amount(.tooManyDecimals(let scale)):
            return "amount has more than \(scale) decimals"
        case .belowMinimum(let min):
            return "amount is below the minimum of \(min.plainText)"
        case .aboveMaximum(let max):
            return "amount is above the maximum of \(max.plainText)"
        }
    }
}
