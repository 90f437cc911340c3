import Foundation

/// An account as its events describe it: balances are derived, never stored as truth.
public struct AccountState: Sendable, Equatable {
    /// Funds an exchange in progress has reserved.
    public struct Hold: Sendable, Equatable {
        /// The exchange holding the funds.
        public var exchangeId: ExchangeID
        /// The source currency held.
        public var currency: Currency
        /// The exchange's `sourceAmount`.
        public var amount: Decimal
        /// UTC day (`yyyy-MM-dd`) the hold counted against, so a release gives back that day's limit.
        public var day: String

        /// Creates a hold record.
        public init(exchangeId: ExchangeID, currency: Currency, amount: Decimal, day: String) {
            self.exchangeId = exchangeId
            self.currency = currency
            self.amount = amount
            self.day = day
        }
    }

    /// Days of usage kept: today and yesterday are all a daily limit can ask about, and a stream
    /// years long must not grow the state.
    public static let retainedUsageDays = 2

    /// The account's id.
    public var account: AccountID
    /// The merchant's name.
    public var name: String
    /// When the account was opened.
    public var openedAt: Date
    /// Spendable balance per currency (a currency stays listed once touched, possibly at 0).
    public var available: [Currency: Decimal]
    /// Balance reserved by exchanges in progress, per currency (only non-zero entries).
    public var held: [Currency: Decimal]
    /// Open holds by exchange.
    public var holds: [ExchangeID: Hold]
    /// Source amounts of exchanges created per UTC day (`yyyy-MM-dd`) and currency, failed ones
    /// released; only the `retainedUsageDays` most recent days seen are kept.
    public var dailyUsage: [String: [Currency: Decimal]]

    /// Creates a state; normally built by `Account.replay`.
    public init(
        account: AccountID,
        name: String,
        openedAt: Date,
        available: [Currency: Decimal] = [:],
        held: [Currency: Decimal] = [:],
        holds: [ExchangeID: Hold] = [:],
        dailyUsage: [String: [Currency: Decimal]] = [:]
    ) {
        self.account = account
        self.name = name
        self.openedAt = openedAt
        self.available = available
        self.held = held
        self.holds = holds
        self.dailyUsage = dailyUsage
    }

    /// Spendable balance in `currency` (0 if never touched).
    public func availableBalance(_ currency: Currency) -> Decimal {
        available[currency] ?? 0
    }

    /// Reserved balance in `currency` (0 if none).
    public func heldBalance(_ currency: Currency) -> Decimal {
        held[currency] ?? 0
    }

    /// How much of `currency` exchanges created on `now`'s UTC day have used of the daily limit.
    public func usedToday(_ currency: Currency, now: Date) -> Decimal {
        dailyUsage[Timestamp.utcDay(now)]?[currency] ?? 0
    }

    /// Every currency with a balance entry, sorted, for balance listings.
    public var currencies: [Currency] {
        Set(available.keys).union(held.keys).sorted()
    }

    /// The `exchange/limit` answer for selling `pair.source` now, in the source currency.
    ///
    /// `minAmount` is the source currency's per-exchange minimum; `maxAmount` is the least of its
    /// per-exchange maximum, the available balance and what is left of today's limit, rounded
    /// down to the source scale and never negative.
    public func limits(for pair: CurrencyPair, market: Market, now: Date) throws(PricingError) -> (minAmount: Decimal, maxAmount: Decimal) {
        guard let source = market.currencies[pair.source] else { throw .unknownCurrency(pair.source) }
        guard market.currencies[pair.destination] != nil else { throw .unknownCurrency(pair.destination) }
        guard let rule = market.pairs[pair], rule.isEnabled else { throw .pairUnavailable(pair) }
        let remainingToday = source.dailyLimit - usedToday(pair.source, now: now)
        let maximum = min(source.maxAmount, availableBalance(pair.source), remainingToday)
        return (source.minAmount, max(0, maximum).rounded(scale: source.scale, .down))
    }
}
