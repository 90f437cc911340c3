import Foundation
import SwaplineDomain

/// An exchange's state as an auditor reads it: status and amounts after some event.
///
/// Encoded with decimals as exact strings, never JSON numbers, which readers parse as `Double`.
public struct ExchangeSnapshot: Sendable, Equatable, Encodable {
    /// The exchange.
    public var exchangeId: ExchangeID
    /// The account that sells.
    public var account: AccountID
    /// The internal stage (`requested`, `quoted`, `submitted`, `completed`, `failed`).
    public var status: ExchangeStatus
    /// What clients see: `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    public var publicState: String
    /// The currency sold.
    public var sourceCurrency: Currency
    /// The currency bought.
    public var destinationCurrency: Currency
    /// What the account pays, fee included.
    public var sourceAmount: Decimal
    /// What the account receives.
    public var destinationAmount: Decimal
    /// The customer rate it was priced at.
    public var rate: Decimal
    /// The fee, part of `sourceAmount`.
    public var fee: Decimal
    /// The rate the worker executed at, once quoted.
    public var executionRate: Decimal?
    /// The settled source amount, once completed.
    public var settledSourceAmount: Decimal?
    /// The settled destination amount, once completed.
    public var settledDestinationAmount: Decimal?
    /// Why it failed, once failed.
    public var failureReason: FailureReason?
    /// Operator detail of the failure.
    public var failureDetail: String?

    /// The snapshot of a replayed state.
    public init(_ state: ExchangeState) {
        let price = state.request.price
        exchangeId = state.id
        account = state.request.account
        status = state.status
        publicState = state.status.publicState
        sourceCurrency = price.pair.source
        destinationCurrency = price.pair.destination
        sourceAmount = price.sourceAmount
        destinationAmount = price.destinationAmount
        rate = price.rate
        fee = price.fee
        executionRate = state.executionRate
        settledSourceAmount = state.completed?.sourceAmount
        settledDestinationAmount = state.completed?.destinationAmount
        failureReason = state.failureReason
        failureDetail = state.failureDetail
    }

    private enum CodingKeys: String, CodingKey {
        case exchangeId, account, status, publicState, sourceCurrency, destinationCurrency, sourceAmount, destinationAmount, rate, fee,
            executionRate, settledSourceAmount, settledDestinationAmount, failureReason, failureDetail
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exchangeId, forKey: .exchangeId)
        try container.encode(account, forKey: .account)
        try container.encode(status, forKey: .status)
        try container.encode(publicState, forKey: .publicState)
        try container.encode(sourceCurrency, forKey: .sourceCurrency)
        try container.encode(destinationCurrency, forKey: .destinationCurrency)
        try container.encode(sourceAmount.plainText, forKey: .sourceAmount)
        try container.encode(destinationAmount.plainText, forKey: .destinationAmount)
        try container.encode(rate.plainText, forKey: .rate)
        try container.encode(fee.plainText, forKey: .fee)
        try container.encodeIfPresent(executionRate?.plainText, forKey: .executionRate)
        try container.encodeIfPresent(settledSourceAmount?.plainText, forKey: .settledSourceAmount)
        try container.encodeIfPresent(settledDestinationAmount?.plainText, forKey: .settledDestinationAmount)
        try container.encodeIfPresent(failureReason, forKey: .failureReason)
        try container.encodeIfPresent(failureDetail, forKey: .failureDetail)
    }

    /// One line for text output: `COMPLETED (completed) 100 USDT_TRX -> 0.00103854 BTC`.
    public var summary: String {
        var text = "\(publicState) (\(status.rawValue)) \(sourceAmount.plainText) \(sourceCurrency) -> \(destinationAmount.plainText) \(destinationCurrency)"
        if let executionRate { text += " at \(executionRate.plainText)" }
        if let failureReason { text += " reason \(failureReason.rawValue)" }
        if let failureDetail { text += " (\(failureDetail))" }
        return text
    }
}

/// One currency's balances in an account.
public struct BalanceSnapshot: Sendable, Equatable, Encodable {
    /// The currency.
    public var currency: Currency
    /// Spendable.
    public var available: Decimal
    /// Reserved by exchanges in progress.
    public var held: Decimal

    /// Creates a balance line.
    public init(currency: Currency, available: Decimal, held: Decimal) {
        self.currency = currency
        self.available = available
        self.held = held
    }

    private enum CodingKeys: String, CodingKey { case currency, available, held }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(currency, forKey: .currency)
        try container.encode(available.plainText, forKey: .available)
        try container.encode(held.plainText, forKey: .held)
    }
}

/// An account's balances as an auditor reads them after some event.
public struct AccountSnapshot: Sendable, Equatable, Encodable {
    /// The account.
    public var account: AccountID
    /// The merchant's name.
    public var name: String
    /// Balances per currency, sorted by currency.
    public var balances: [BalanceSnapshot]
    /// Exchanges whose holds are still open, ascending.
    public var openHolds: [ExchangeID]

    /// The snapshot of a replayed state; `currencies` limits the balances listed (all when nil).
    public init(_ state: AccountState, currencies: [Currency]? = nil) {
        account = state.account
        name = state.name
        balances = (currencies ?? state.currencies).map {
            BalanceSnapshot(currency: $0, available: state.availableBalance($0), held: state.heldBalance($0))
        }
        openHolds = state.holds.keys.sorted()
    }

    /// The balance of `currency` (zeros when the account never touched it).
    public func balance(_ currency: Currency) -> BalanceSnapshot {
        balances.first { $0.currency == currency } ?? BalanceSnapshot(currency: currency, available: 0, held: 0)
    }

    /// One line for text output: `USDT_TRX available 900 held 100; BTC available 0 held 0`.
    public var summary: String {
        let parts = balances.map { "\($0.currency) available \($0.available.plainText) held \($0.held.plainText)" }
        return parts.isEmpty ? "no balances" : parts.joined(separator: "; ")
    }
}

/// The state of whichever aggregate an event belongs to.
public enum AggregateSnapshot: Sendable, Equatable, Encodable {
    /// An exchange stream's state.
    case exchange(ExchangeSnapshot)
    /// An account stream's state.
    case account(AccountSnapshot)

    private enum CodingKeys: String, CodingKey { case kind, exchange, account }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .exchange(let snapshot):
            try container.encode("exchange", forKey: .kind)
            try container.encode(snapshot, forKey: .exchange)
        case .account(let snapshot):
            try container.encode("account", forKey: .kind)
            try container.encode(snapshot, forKey: .account)
        }
    }

    /// One line for text output.
    public var summary: String {
        switch self {
        case .exchange(let snapshot): snapshot.summary
        case .account(let snapshot): snapshot.summary
        }
    }
}
