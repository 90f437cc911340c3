import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// Filters of exchange/list; every one optional.
public struct ExchangeFilter: Sendable, Equatable {
    public var state: String?
    public var sourceCurrency: Currency?
    public var destinationCurrency: Currency?
    public var createdFrom: Date?
    public var createdTo: Date?

    public init(
        state: String? = nil, sourceCurrency: Currency? = nil, destinationCurrency: Currency? = nil, createdFrom: Date? = nil,
        createdTo: Date? = nil
    ) {
        self.state = state
        self.sourceCurrency = sourceCurrency
        self.destinationCurrency = destinationCurrency
        self.createdFrom = createdFrom
        self.createdTo = createdTo
    }
}

/// A page of exchanges, newest first, and where the next one starts.
public struct ExchangePage: Sendable {
    public var exchanges: [ExchangeView]
    public var nextCursor: String?
}

/// Reads of `read.exchanges`, which the appends keep current in their own transactions, so a
/// caller always sees its own create.
public struct ExchangeQueries: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    public static let maximumPageSize = 500
    /// Concurrent gets, read in one statement.
    let lookups: RoundTripBatcher<Lookup, ExchangeView?>

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.lookups = RoundTripBatcher { [client, logger] lookups in try await Self.find(lookups, client: client, logger: logger) }
    }

    static let columns = """
        id, account_id, source_currency, destination_currency, direction, source_amount::text, destination_amount::text,
        rate::text, fee::text, state, failure_reason, created_at, updated_at
        """

    /// The exchange if it is the account's; another account's is as missing as none.
    public func get(account: AccountID, id: ExchangeID) async throws -> ExchangeView {
        guard let view = try await lookups.submit(Lookup(id: id, account: account)) else {
            throw SwaplineError.notFound("exchange \(id) not found")
        }
        return view
    }

    struct Lookup: Hashable, Sendable {
        var id: ExchangeID
        var account: AccountID
    }

    static func find(_ lookups: [Lookup], client: PostgresClient, logger: Logger) async throws -> [ExchangeView?] {
        let rows = try await client.execute(
            Prepared(FindExchanges.self, try PostgresBindings(lookups.map(\.id), lookups.map(\.account.rawValue))), logger: logger)
        var found: [Lookup: ExchangeView] = [:]
        for view in try await decode(rows) { found[Lookup(id: view.id, account: view.account)] = view }
        return lookups.map { found[$0] }
    }

    enum FindExchanges: PreparedSQL {
        static let sql = """
            SELECT \(columns) FROM read.exchanges
            JOIN unnest($1::bigint[], $2::text[]) AS wanted(id, account_id) USING (id, account_id)
            """
    }

    /// Newest first (by id, which the create takes from a sequence), keyset-paginated on the id:
    /// stable under concurrent inserts, and each exchange appears on one page only. The cursor is
    /// the exact id, so no timestamp rounding can make a page skip rows.
    public func list(account: AccountID, filter: ExchangeFilter, cursor: String?, limit: Int) async throws -> ExchangePage {
        let pageSize = max(1, min(limit, Self.maximumPageSize))
        var after: ExchangeID?
        if let cursor {
            guard let decoded = Self.decodeCursor(cursor) else { throw SwaplineError.badRequest("payload.cursor is not a cursor this server issued") }
            after = decoded
        }
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM read.exchanges
            WHERE account_id = \(account.rawValue)
              AND (\(filter.state)::text IS NULL OR state = \(filter.state))
              AND (\(filter.sourceCurrency?.code)::text IS NULL OR source_currency = \(filter.sourceCurrency?.code))
              AND (\(filter.destinationCurrency?.code)::text IS NULL OR destination_currency = \(filter.destinationCurrency?.code))
              AND (\(filter.createdFrom)::timestamptz IS NULL OR created_at >= \(filter.createdFrom))
              AND (\(filter.createdTo)::timestamptz IS NULL OR created_at < \(filter.createdTo))
              AND (\(after)::bigint IS NULL OR id < \(after))
            ORDER BY id DESC
            LIMIT \(pageSize + 1)
            """,
            logger: logger)
        var views = try await Self.decode(rows)
        var nextCursor: String?
        if views.count > pageSize {
            views.removeLast()
            if let last = views.last { nextCursor = Self.encodeCursor(last.id) }
        }
        return ExchangePage(exchanges: views, nextCursor: nextCursor)
    }

    static func encodeCursor(_ id: ExchangeID) -> String {
        Data("exchange:\(id)".utf8).base64EncodedString()
    }

    static func decodeCursor(_ text: String) -> ExchangeID? {
        guard text.count <= 100, let data = Data(base64Encoded: text) else { return nil }
        let decoded = String(decoding: data, as: UTF8.self)
        guard decoded.hasPrefix("exchange:"), let id = ExchangeID(decoded.dropFirst("exchange:".count)), id > 0 else { return nil }
        return id
    }

    static func decode<Rows: AsyncSequence>(_ rows: Rows) async throws -> [ExchangeView] where Rows.Element == PostgresRow {
        var views: [ExchangeView] = []
        for try await row in rows {
            let (id, account, source, destination, direction, sourceAmount, destinationAmount, rate, fee, state, reason, createdAt, updatedAt) =
                try row.decode((Int64, String, String, String, String, String, String, String, String, String, String?, Date, Date).self)
            guard let accountID = AccountID(account) else { continue }
            views.append(
                ExchangeView(
                    id: id, account: accountID, pair: CurrencyPair(Currency(source), Currency(destination)),
                    direction: Direction(rawValue: direction) ?? .sell,
                    sourceAmount: try Amount.parseDecimal(sourceAmount), destinationAmount: try Amount.parseDecimal(destinationAmount),
                    rate: try Amount.parseDecimal(rate), fee: try Amount.parseDecimal(fee), state: state,
                    failureReason: reason.flatMap(FailureReason.init(rawValue:)), createdAt: createdAt, updatedAt: updatedAt))
        }
        return views
    }
}
