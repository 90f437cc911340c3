import Foundation

/// An exchange was created: its price is fixed and the account's source funds are held.
public struct ExchangeRequested: Sendable, Equatable, Codable {
    /// The exchange's id (also in its stream name).
    public var id: ExchangeID
    /// The account that sells.
    public var account: AccountID
    /// Amounts, rate and fee the exchange will settle at.
    public var price: Price
    /// The quote it executes, if the client pre-calculated one.
    public var quoteId: UUID?
    /// When the request was accepted (`createdDate`).
    public var requestedAt: Date

    /// Creates the payload.
    public init(id: ExchangeID, account: AccountID, price: Price, quoteId: UUID? = nil, requestedAt: Date) {
        self.id = id
        self.account = account
        self.price = price
        self.quoteId = quoteId
        self.requestedAt = requestedAt
    }

    private enum CodingKeys: String, CodingKey {
        case id, account, price, quoteId, requestedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(ExchangeID.self, forKey: .id)
        account = try container.decode(AccountID.self, forKey: .account)
        price = try container.decode(Price.self, forKey: .price)
        quoteId = try container.decodeIfPresent(UUID.self, forKey: .quoteId)
        requestedAt = try container.decodeTimestamp(forKey: .requestedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(account, forKey: .account)
        try container.encode(price, forKey: .price)
        // Lowercase, as RFC 4122 recommends, so JSON and SQL `uuid` text agree.
        try container.encodeIfPresent(quoteId.map { $0.uuidString.lowercased() }, forKey: .quoteId)
        try container.encodeTimestamp(requestedAt, forKey: .requestedAt)
    }
}

/// The execution worker fixed the rate it will execute at (checked against the quote's tolerance).
public struct ExchangeQuoted: Sendable, Equatable, Codable {
    /// The venue's customer-side rate at execution time.
    public var executionRate: Decimal
    /// When the worker took the rate.
    public var quotedAt: Date

    /// Creates the payload.
    public init(executionRate: Decimal, quotedAt: Date) {
        self.executionRate = executionRate
        self.quotedAt = quotedAt
    }

    private enum CodingKeys: String, CodingKey {
        case executionRate, quotedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        executionRate = try container.decodeDecimal(forKey: .executionRate)
        quotedAt = try container.decodeTimestamp(forKey: .quotedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeDecimal(executionRate, forKey: .executionRate)
        try container.encodeTimestamp(quotedAt, forKey: .quotedAt)
    }
}

/// The order went to the venue under an idempotent client order id.
public struct ExchangeSubmitted: Sendable, Equatable, Codable {
    /// The id the venue knows the order by; recorded first so a restarted worker reconciles instead of resubmitting.
    public var clientOrderId: String
    /// When it was submitted.
    public var submittedAt: Date

    /// Creates the payload.
    public init(clientOrderId: String, submittedAt: Date) {
        self.clientOrderId = clientOrderId
        self.submittedAt = submittedAt
    }

    private enum CodingKeys: String, CodingKey {
        case clientOrderId, submittedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clientOrderId = try container.decode(String.self, forKey: .clientOrderId)
        submittedAt = try container.decodeTimestamp(forKey: .submittedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(clientOrderId, forKey: .clientOrderId)
        try container.encodeTimestamp(submittedAt, forKey: .submittedAt)
    }
}

/// The exchange settled: the house received `sourceAmount` (fee included) and paid `destinationAmount`.
public struct ExchangeCompleted: Sendable, Equatable, Codable {
    /// Received by the house, in the source currency.
    public var sourceAmount: Decimal
    /// Paid by the house, in the destination currency.
    public var destinationAmount: Decimal
    /// When it settled.
    public var completedAt: Date

    /// Creates the payload.
    public init(sourceAmount: Decimal, destinationAmount: Decimal, completedAt: Date) {
        self.sourceAmount = sourceAmount
        self.destinationAmount = destinationAmount
        self.completedAt = completedAt
    }

    private enum CodingKeys: String, CodingKey {
        case sourceAmount, destinationAmount, completedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sourceAmount = try container.decodeDecimal(forKey: .sourceAmount)
        destinationAmount = try container.decodeDecimal(forKey: .destinationAmount)
        completedAt = try container.decodeTimestamp(forKey: .completedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeDecimal(sourceAmount, forKey: .sourceAmount)
        try container.encodeDecimal(destinationAmount, forKey: .destinationAmount)
        try container.encodeTimestamp(completedAt, forKey: .completedAt)
    }
}

/// The exchange failed; its hold is released and the reason recorded.
public struct ExchangeFailed: Sendable, Equatable, Codable {
    /// The machine-readable reason.
    public var reason: FailureReason
    /// Free text for operators (a venue message); never shown as the reason itself.
    public var detail: String?
    /// When it failed.
    public var failedAt: Date

    /// Creates the payload.
    public init(reason: FailureReason, detail: String? = nil, failedAt: Date) {
        self.reason = reason
        self.detail = detail
        self.failedAt = failedAt
    }

    private enum CodingKeys: String, CodingKey {
        case reason, detail, failedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        reason = try container.decode(FailureReason.self, forKey: .reason)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        failedAt = try container.decodeTimestamp(forKey: .failedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reason, forKey: .reason)
        try container.encodeIfPresent(detail, forKey: .detail)
        try container.encodeTimestamp(failedAt, forKey: .failedAt)
    }
}
