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

/// What `ExchangeQueries.get(account:id:unlessVersion:recording:)` found.
public enum ExchangeLookup: Sendable {
    /// The exchange's stream is still at the version the caller knows.
    case unchanged
    case found(ExchangeView, version: Int64)
}

/// Reads of `read.exchanges`, which the appends keep current in their own transactions, so a
/// caller always sees its own create.
public struct ExchangeQueries: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    public static let maximumPageSize = 500
    /// Concurrent gets, read in one statement.
    let lookups: RoundTripBatcher<Lookup, Answer>

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
        guard case .found(let view, _) = try await get(account: account, id: id, unlessVersion: nil, recording: nil) else {
            preconditionFailure("an exchange looked up without a known version is always found or missing")
        }
        return view
    }

    /// The exchange if it is the account's, or `.unchanged` when its stream is still at `known`:
    /// a caller that kept what it made of that version (a rendered body) skips decoding the row.
    /// Another account's exchange is as missing as none.
    ///
    /// `seen`, a signed request not yet recorded by the replay guard, is recorded by the same
    /// statement that reads the exchange (a round trip less per exchange/get; nothing is written
    /// before the check, as for any read); a replay is refused before anything else is answered.
    public func get(account: AccountID, id: ExchangeID, unlessVersion known: Int64?, recording seen: AccountService.SeenRequest?)
        async throws -> ExchangeLookup
    {
        switch try await lookups.submit(Lookup(id: id, account: account, knownVersion: known, seen: seen)) {
        case .replayed: throw SwaplineError.replayed
        case .missing: throw SwaplineError.notFound("exchange \(id) not found")
        case .found(let lookup): return lookup
        }
    }

    /// One lookup's answer in a batch.
    enum Answer: Sendable {
        case replayed
        case missing
        case found(ExchangeLookup)
    }

    struct Lookup: Sendable {
        var id: ExchangeID
        var account: AccountID
        var knownVersion: Int64?
        var seen: AccountService.SeenRequest?
    }

    struct Key: Hashable {
        var id: ExchangeID
        var account: String
    }

    static func find(_ lookups: [Lookup], client: PostgresClient, logger: Logger) async throws -> [Answer] {
        let seen = lookups.compactMap(\.seen)
        let rows = try await client.execute(
            Prepared(
                FindExchanges.self,
                try PostgresBindings(lookups.map(\.id), lookups.map(\.account.rawValue), AccountService.distinctDigests(seen))),
            logger: logger)
        var fresh = Set<AccountService.SeenRequest>()
        var rowsByKey: [Key: (version: Int64, row: PostgresRow)] = [:]
        for try await row in rows {
            let (recorded, id, account, version) = try row.decode(([ByteBuffer]?, Int64?, String?, Int64?).self)
            for digest in recorded ?? [] { fresh.insert(AccountService.SeenRequest(digest: digest)) }
            if let id, let account, let version { rowsByKey[Key(id: id, account: account)] = (version, row) }
        }
        let isNew = AccountService.firstSightings(lookups.map(\.seen), fresh: fresh)
        var decoded: [Key: ExchangeView] = [:]
        return try zip(lookups, isNew).map { lookup, isNew -> Answer in
            guard isNew else { return .replayed }
            let key = Key(id: lookup.id, account: lookup.account.rawValue)
            guard let (version, row) = rowsByKey[key] else { return .missing }
            if lookup.knownVersion == version { return .found(.unchanged) }
            if decoded[key] == nil { decoded[key] = try decode(row, columnsFrom: 4) }
            return decoded[key].map { .found(.found($0, version: version)) } ?? .missing
        }
    }

    /// The replay guard's records of the batch's requests (what it recorded, on every row; one row
    /// with no exchange when none is found), then the exchanges, each stream version before the
    /// rest of its row so a known one is found without decoding the rest.
    enum FindExchanges: PreparedSQL {
        static let sql = """
            WITH \(AccountService.recordingSQL(digestsParameter: 3))
            SELECT recorded.digests, found.* FROM (SELECT array_agg(digest) AS digests FROM recorded) AS recorded
            LEFT JOIN (
                SELECT id, account_id, stream_version, \(columns) FROM read.exchanges
                JOIN unnest($1::bigint[], $2::text[]) AS wanted(id, account_id) USING (id, account_id)
            ) AS found ON true
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
            if let view = try decode(row, columnsFrom: 0) { views.append(view) }
        }
        return views
    }

    /// The view from `columns`, which start at column `first` of the row.
    static func decode(_ row: PostgresRow, columnsFrom first: Int) throws -> ExchangeView? {
        let cells = row.makeRandomAccess()
        func cell<Value: PostgresDecodable>(_ index: Int, _ type: Value.Type) throws -> Value {
            try cells[first + index].decode(type, context: .default)
        }
        guard let account = AccountID(try cell(1, String.self)) else { return nil }
        return ExchangeView(
            id: try cell(0, Int64.self), account: account,
            pair: CurrencyPair(Currency(try cell(2, String.self)), Currency(try cell(3, String.self))),
            direction: Direction(rawValue: try cell(4, String.self)) ?? .sell,
            sourceAmount: try Amount.parseDecimal(try cell(5, String.self)), destinationAmount: try Amount.parseDecimal(try cell(6, String.self)),
            rate: try Amount.parseDecimal(try cell(7, String.self)), fee: try Amount.parseDecimal(try cell(8, String.self)),
            state: try cell(9, String.self), failureReason: try cell(10, String?.self).flatMap(FailureReason.init(rawValue:)),
            createdAt: try cell(11, Date.self), updatedAt: try cell(12, Date.self))
    }
}
