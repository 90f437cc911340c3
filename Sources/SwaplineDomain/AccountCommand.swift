import Foundation

/// What can be asked of an account.
public enum AccountCommand: Sendable {
    /// Create the account.
    case open(account: AccountID, name: String, at: Date)
    /// Credit available funds (admin).
    case deposit(Currency, Decimal, at: Date)
    /// Debit available funds (admin).
    case withdraw(Currency, Decimal, at: Date)
    /// Reserve an exchange's source amount, checking balance and, when given, the daily limit.
    case hold(exchangeId: ExchangeID, currency: Currency, amount: Decimal, dailyLimit: Decimal?, at: Date)
    /// Return a failed exchange's hold to available.
    case release(exchangeId: ExchangeID, reason: FailureReason?, at: Date)
    /// Settle a completed exchange: consume its hold, credit the destination amount.
    case settle(exchangeId: ExchangeID, destinationCurrency: Currency, destinationAmount: Decimal, at: Date)
}
