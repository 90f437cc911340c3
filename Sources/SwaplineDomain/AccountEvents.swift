import Foundation

/// A merchant account was created.
public struct AccountOpened: Sendable, Equatable, Codable {
    /// The account's id (also in its stream name).
    public var account: AccountID
    /// The merchant's display name (`name` in `account`).
    public var name: String
    /// When it was opened.
    public var openedAt: Date

    /// Creates the payload.
    public init(account: AccountID, name: String, openedAt: Date) {
        self.account = account
        self.name = name
        self.openedAt = openedAt
    }

    private enum CodingKeys: String, CodingKey {
        case account, name, openedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        account = try container.decode(AccountID.self, forKey: .account)
        name = try container.decode(String.self, forKey: .name)
        openedAt = try container.decodeTimestamp(forKey: .openedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(account, forKey: .account)
        try container.encode(name, forKey: .name)
        try container.encodeTimestamp(openedAt, forKey: .openedAt)
    }
}

/// An administrator credited funds to the account's available balance.
public struct FundsDeposited: Sendable, Equatable, Codable {
    /// The currency credited.
    public var currency: Currency
    /// The amount credited, positive.
    public var amount: Decimal
    /// When.
    public var at: Date

    /// Creates the payload.
    public init(currency: Currency, amount: Decimal, at: Date) {
        self.currency = currency
        self.amount = amount
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case currency, amount, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currency = try container.decode(Currency.self, forKey: .currency)
        amount = try container.decodeDecimal(forKey: .amount)
        at = try container.decodeTimestamp(forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(currency, forKey: .currency)
        try container.encodeDecimal(amount, forKey: .amount)
        try container.encodeTimestamp(at, forKey: .at)
    }
}

/// An administrator debited funds from the account's available balance.
public struct FundsWithdrawn: Sendable, Equatable, Codable {
    /// The currency debited.
    public var currency: Currency
    /// The amount debited, positive.
    public var amount: Decimal
    /// When.
    public var at: Date

    /// Creates the payload.
    public init(currency: Currency, amount: Decimal, at: Date) {
        self.currency = currency
        self.amount = amount
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case currency, amount, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currency = try container.decode(Currency.self, forKey: .currency)
        amount = try container.decodeDecimal(forKey: .amount)
        at = try container.decodeTimestamp(forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(currency, forKey: .currency)
        try container.encodeDecimal(amount, forKey: .amount)
        try container.encodeTimestamp(at, forKey: .at)
    }
}

/// An exchange reserved source funds: they move from available to held and count against today's limit.
public struct FundsHeld: Sendable, Equatable, Codable {
    /// The exchange holding them.
    public var exchangeId: ExchangeID
    /// The source currency.
    public var currency: Currency
    /// The exchange's `sourceAmount`.
    public var amount: Decimal
    /// When (its UTC day is the day the limit counts it on).
    public var at: Date

    /// Creates the payload.
    public init(exchangeId: ExchangeID, currency: Currency, amount: Decimal, at: Date) {
        self.exchangeId = exchangeId
        self.currency = currency
        self.amount = amount
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case exchangeId, currency, amount, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        exchangeId = try container.decode(ExchangeID.self, forKey: .exchangeId)
        currency = try container.decode(Currency.self, forKey: .currency)
        amount = try container.decodeDecimal(forKey: .amount)
        at = try container.decodeTimestamp(forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exchangeId, forKey: .exchangeId)
        try container.encode(currency, forKey: .currency)
        try container.encodeDecimal(amount, forKey: .amount)
        try container.encodeTimestamp(at, forKey: .at)
    }
}

/// A failed exchange's hold went back to available, and back to the day's limit.
public struct HoldReleased: Sendable, Equatable, Codable {
    /// The exchange whose hold is released.
    public var exchangeId: ExchangeID
    /// The held currency.
    public var currency: Currency
    /// The held amount returned.
    public var amount: Decimal
    /// Why the exchange failed, when it did.
    public var reason: FailureReason?
    /// When.
    public var at: Date

    /// Creates the payload.
    public init(exchangeId: ExchangeID, currency: Currency, amount: Decimal, reason: FailureReason?, at: Date) {
        self.exchangeId = exchangeId
        self.currency = currency
        self.amount = amount
        self.reason = reason
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case exchangeId, currency, amount, reason, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        exchangeId = try container.decode(ExchangeID.self, forKey: .exchangeId)
        currency = try container.decode(Currency.self, forKey: .currency)
        amount = try container.decodeDecimal(forKey: .amount)
        reason = try container.decodeIfPresent(FailureReason.self, forKey: .reason)
        at = try container.decodeTimestamp(forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exchangeId, forKey: .exchangeId)
        try container.encode(currency, forKey: .currency)
        try container.encodeDecimal(amount, forKey: .amount)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeTimestamp(at, forKey: .at)
    }
}

/// A completed exchange settled: the source amount leaves the hold, the destination amount is credited to available.
public struct ExchangeSettled: Sendable, Equatable, Codable {
    /// The exchange settled.
    public var exchangeId: ExchangeID
    /// The currency sold.
    public var sourceCurrency: Currency
    /// Taken out of held: exactly the hold's amount.
    public var sourceAmount: Decimal
    /// The currency received.
    public var destinationCurrency: Currency
    /// Credited to available.
    public var destinationAmount: Decimal
    /// When.
    public var at: Date

    /// Creates the payload.
    public init(
        exchangeId: ExchangeID,
        sourceCurrency: Currency,
        sourceAmount: Decimal,
        destinationCurrency: Currency,
        destinationAmount: Decimal,
        at: Date
    ) {
        self.exchangeId = exchangeId
        self.sourceCurrency = sourceCurrency
        self.sourceAmount = sourceAmount
        self.destinationCurrency = destinationCurrency
        self.destinationAmount = destinationAmount
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case exchangeId, sourceCurrency, sourceAmount, destinationCurrency, destinationAmount, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        exchangeId = try container.decode(ExchangeID.self, forKey: .exchangeId)
        sourceCurrency = try container.decode(Currency.self, forKey: .sourceCurrency)
        sourceAmount = try container.decodeDecimal(forKey: .sourceAmount)
        destinationCurrency = try container.decode(Currency.self, forKey: .destinationCurrency)
        destinationAmount = try container.decodeDecimal(forKey: .destinationAmount)
        at = try container.decodeTimestamp(forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exchangeId, forKey: .exchangeId)
        try container.encode(sourceCurrency, forKey: .sourceCurrency)
        try container.encodeDecimal(sourceAmount, forKey: .sourceAmount)
        try container.encode(destinationCurrency, forKey: .destinationCurrency)
        try container.encodeDecimal(destinationAmount, forKey: .destinationAmount)
        try container.encodeTimestamp(at, forKey: .at)
    }
}
