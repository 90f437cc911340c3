import Foundation
import SwaplineDomain

/// One difference `AuditLog.verify` found between what the store holds and what it should hold.
///
/// `expected` is the value the check trusts (a recomputed hash, the stream head, the seal, the
/// conserved total) and `actual` what the store shows instead.
public struct AuditFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The stream concerned; `AuditFinding.allStreams` for store-wide checks (money conservation),
    /// `AuditFinding.sealFile` for the seal file itself.
    public var streamId: String
    /// The stream version concerned, when one event is.
    public var version: Int64?
    /// What differs: a column (`hash`, `prev_hash`, `stream_version`, `data`), a head column
    /// (`stream_heads.last_version`, …), a seal entry (`seal.hash`, `seal.version`) or a balance (`balance.BTC`).
    public var field: String
    /// The trusted value.
    public var expected: String
    /// The value found.
    public var actual: String
    /// What it means, in words.
    public var message: String

    /// The `streamId` of findings about the whole store.
    public static let allStreams = "*"
    /// The `streamId` of findings about the seal file rather than the database.
    public static let sealFile = "seal"

    /// Creates a finding.
    public init(streamId: String, version: Int64? = nil, field: String, expected: String, actual: String, message: String) {
        self.streamId = streamId
        self.version = version
        self.field = field
        self.expected = expected
        self.actual = actual
        self.message = message
    }

    /// `exchange-7 v3 hash: expected 3f…, actual 9a… — message`.
    public var description: String {
        let place = version.map { "\(streamId) v\($0)" } ?? streamId
        return "\(place) \(field): expected \(expected), actual \(actual) — \(message)"
    }
}

/// Money conservation for one currency: deposits − withdrawals must equal what the accounts
/// hold (available + held) plus what the house kept from settlements.
public struct CurrencyConservation: Sendable, Equatable, Encodable {
    /// The currency.
    public var currency: String
    /// Sum of `FundsDeposited` over every account stream.
    public var deposits: Decimal
    /// Sum of `FundsWithdrawn` over every account stream.
    public var withdrawals: Decimal
    /// Sum of replayed available + held over every account.
    public var accounts: Decimal
    /// Source amounts received minus destination amounts paid over every `ExchangeCompleted`.
    public var house: Decimal

    /// Whether the currency adds up.
    public var balances: Bool { deposits - withdrawals == accounts + house }

    private enum CodingKeys: String, CodingKey { case currency, deposits, withdrawals, accounts, house, balances }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(currency, forKey: .currency)
        try container.encode(deposits.plainText, forKey: .deposits)
        try container.encode(withdrawals.plainText, forKey: .withdrawals)
        try container.encode(accounts.plainText, forKey: .accounts)
        try container.encode(house.plainText, forKey: .house)
        try container.encode(balances, forKey: .balances)
    }
}

/// What `AuditLog.verify` checked and found.
public struct AuditReport: Sendable, Equatable, Encodable {
    /// Every difference; empty for a clean store.
    public var findings: [AuditFinding]
    /// Streams walked (with events, or named by a head).
    public var streamsChecked: Int
    /// Events whose hash was recomputed.
    public var eventsChecked: Int
    /// Stream heads of the seal checked, or nil when verified without a seal.
    public var sealedStreamsChecked: Int?
    /// Read models recomputed and compared (none until the projections exist).
    public var projectionsChecked: [String]
    /// Money conservation per currency, sorted by currency.
    public var conservation: [CurrencyConservation]

    /// No finding at all.
    public var isClean: Bool { findings.isEmpty }
}

/// Why an audit query could not answer.
public enum AuditError: Error, Equatable, CustomStringConvertible {
    /// The stream has no events.
    case streamNotFound(String)
    /// The exchange stream does not start with `ExchangeRequested`, so its account is unknown.
    case notAnExchange(String)
    /// A stored event that the domain cannot read.
    case undecodable(streamId: String, version: Int64, reason: String)

    public var description: String {
        switch self {
        case .streamNotFound(let stream): "no events in stream \(stream)"
        case .notAnExchange(let stream): "stream \(stream) does not start with ExchangeRequested"
        case .undecodable(let stream, let version, let reason): "\(stream) v\(version) cannot be decoded: \(reason)"
        }
    }
}
