import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain

/// What `AuditLog.asOf` replays: an exchange or an account.
public enum AuditSubject: Sendable, Equatable, CustomStringConvertible {
    /// The stream `exchange-<id>`.
    case exchange(ExchangeID)
    /// The stream `account-<0x…>`.
    case account(AccountID)

    /// `0x…` (40 hex characters) is an account; a positive integer is an exchange.
    public static func parse(_ text: String) -> AuditSubject? {
        if let account = AccountID(text) { return .account(account) }
        if let id = ExchangeID(text), id > 0 { return .exchange(id) }
        return nil
    }

    /// The stream holding the subject's events.
    public var streamId: String {
        switch self {
        case .exchange(let id): Streams.exchange(id)
        case .account(let account): Streams.account(account)
        }
    }

    public var description: String { streamId }
}

/// Up to where `AuditLog.asOf` replays.
public enum AuditPoint: Sendable, Equatable, CustomStringConvertible {
    /// Events up to and including this stream version.
    case version(Int64)
    /// Events recorded at or before this ISO-8601 time. Kept as the text given, checked by
    /// `Timestamp.parse`, and compared by PostgreSQL, so the microseconds `history` prints are
    /// honoured (the domain's `Date` parsing keeps milliseconds only).
    case time(String)

    /// A positive integer is a version; anything `Timestamp.parse` accepts is a time.
    public static func parse(_ text: String) -> AuditPoint? {
        if let version = Int64(text), version > 0 { return .version(version) }
        if Timestamp.parse(text) != nil { return .time(text) }
        return nil
    }

    /// A point at `date`, to the millisecond.
    public static func at(_ date: Date) -> AuditPoint {
        .time(Timestamp.format(date))
    }

    public var description: String {
        switch self {
        case .version(let version): "version \(version)"
        case .time(let text): text
        }
    }
}

/// One line of an exchange's history: an event and the state of its aggregate right after it.
public struct HistoryEntry: Sendable, Equatable, Encodable {
    /// The stored event, every column.
    public var event: AuditedEvent
    /// The exchange's state (for an exchange event) or the account's balances in the exchange's
    /// two currencies (for an account event), replayed up to and including `event`.
    public var state: AggregateSnapshot
}

/// An exchange's whole story: its own events and the account events it caused, in global order.
public struct ExchangeHistory: Sendable, Equatable, Encodable {
    /// The exchange.
    public var exchangeId: ExchangeID
    /// The account that created it.
    public var account: AccountID
    /// Events in the global order (transaction, then position).
    public var entries: [HistoryEntry]
    /// The exchange's state after its last event.
    public var final: ExchangeSnapshot
}

/// A stream's state at a point in its history.
public struct AsOfState: Sendable, Equatable, Encodable {
    /// The stream replayed.
    public var streamId: String
    /// The point asked for, as text.
    public var point: String
    /// The last version applied; 0 when the point is before the stream's first event.
    public var version: Int64
    /// When that version was recorded (UTC, microseconds).
    public var recordedAt: String?
    /// The stream's current last version, to show how much came after the point.
    public var latestVersion: Int64
    /// The replayed state; nil before the stream's first event.
    public var state: AggregateSnapshot?
}

/// A read model that `AuditLog.verify` recomputes from the events and compares with what is stored.
///
/// None exists yet: the projections (issue 3, items 1–2) register one verifier per read model when
/// they land, and `verify` runs them inside the same read snapshot as the hash-chain walk, so the
/// events they replay and the rows they compare are of one moment.
public protocol ProjectionVerifier: Sendable {
    /// The read model's name, as `swapline projections` shows it.
    var name: String { get }
    /// Recomputes the read model from the events visible on `connection` and reports each row or
    /// column that differs.
    func verify(on connection: PostgresConnection, logger: Logger) async throws -> [AuditFinding]
}

/// The auditors' tools: replay, hash-chain and seal verification, money conservation, export.
///
/// Needs nothing but SELECT on `events` and `stream_heads` (the auditor role's rights). Every
/// operation reads inside one read-only REPEATABLE READ transaction, so events and heads are
/// compared as of one moment even while the service keeps appending; a read-only transaction
/// takes no transaction id, so it does not hold back the global readers' xid8 horizon, which is
/// why it may lift the runtime's statement timeouts for a long walk.
public struct AuditLog: Sendable {
    /// The database, connected with at least SELECT on `events` and `stream_heads`.
    public let client: PostgresClient
    /// Where queries log.
    public let logger: Logger
    /// Read models `verify` recomputes (empty until the projections exist).
    public let projections: [any ProjectionVerifier]

    /// An audit log over `client`.
    public init(client: PostgresClient, logger: Logger, projections: [any ProjectionVerifier] = []) {
        self.client = client
        self.logger = logger
        self.projections = projections
    }

    // MARK: history

    /// Every event of the exchange's stream and the account events it caused (`FundsHeld`,
    /// `HoldReleased`, `ExchangeSettled` naming it), merged in global order, each with its
    /// aggregate's state after it. Account states come from replaying the whole account stream,
    /// so other exchanges' and deposits' effects are included.
    public func history(of exchangeId: ExchangeID) async throws -> ExchangeHistory {
        let exchangeStream = Streams.exchange(exchangeId)
        return try await withReadSnapshot { connection in
            let exchangeEvents = try await Self.readStream(exchangeStream, on: connection, logger: logger)
            guard let first = exchangeEvents.first else { throw AuditError.streamNotFound(exchangeStream) }
            guard case .requested(let request) = try Self.exchangeEvent(first) else { throw AuditError.notAnExchange(exchangeStream) }
            let currencies = [request.price.pair.source, request.price.pair.destination]

            var entries: [HistoryEntry] = []
            var exchange: ExchangeState?
            for stored in exchangeEvents {
                exchange = Exchange.evolve(exchange, try Self.exchangeEvent(stored))
                if let exchange { entries.append(HistoryEntry(event: stored, state: .exchange(ExchangeSnapshot(exchange)))) }
            }

            var account: AccountState?
            // Streamed row by row: an account's stream can be far longer than one exchange's story.
            let accountRows = try await connection.query(
                "SELECT \(unescaped: AuditedEvent.columns) FROM events WHERE stream_id = \(Streams.account(request.account)) ORDER BY events.stream_version",
                logger: logger)
            for try await row in accountRows {
                let stored = try AuditedEvent.decode(row)
                let event = try Self.accountEvent(stored)
                account = Account.evolve(account, event)
                guard event.exchangeId == exchangeId, let account else { continue }
                entries.append(HistoryEntry(event: stored, state: .account(AccountSnapshot(account, currencies: currencies))))
            }
            entries.sort { ($0.event.transactionId, $0.event.globalPosition) < ($1.event.transactionId, $1.event.globalPosition) }
            guard let exchange else { throw AuditError.notAnExchange(exchangeStream) }
            return ExchangeHistory(exchangeId: exchangeId, account: request.account, entries: entries, final: ExchangeSnapshot(exchange))
        }
    }

    // MARK: as-of

    /// The subject's state replayed up to `point` (a version, or a time compared with `recorded_at`).
    ///
    /// - Throws: `AuditError.streamNotFound` when the stream has no events at all.
    public func asOf(_ subject: AuditSubject, _ point: AuditPoint) async throws -> AsOfState {
        let streamId = subject.streamId
        return try await withReadSnapshot { connection in
            let latest = try await Self.latestVersion(streamId, on: connection, logger: logger)
            guard latest > 0 else { throw AuditError.streamNotFound(streamId) }
            let query: PostgresQuery =
                switch point {
                case .version(let version):
                    """
                    SELECT \(unescaped: AuditedEvent.columns) FROM events
                    WHERE stream_id = \(streamId) AND stream_version <= \(version) ORDER BY events.stream_version
                    """
                case .time(let text):
                    """
                    SELECT \(unescaped: AuditedEvent.columns) FROM events
                    WHERE stream_id = \(streamId) AND recorded_at <= \(text)::timestamptz ORDER BY events.stream_version
                    """
                }
            var last: AuditedEvent?
            var state: AggregateSnapshot?
            switch subject {
            case .exchange:
                var exchange: ExchangeState?
                for try await row in try await connection.query(query, logger: logger) {
                    let stored = try AuditedEvent.decode(row)
                    exchange = Exchange.evolve(exchange, try Self.exchangeEvent(stored))
                    last = stored
                }
                state = exchange.map { .exchange(ExchangeSnapshot($0)) }
            case .account:
                var account: AccountState?
                for try await row in try await connection.query(query, logger: logger) {
                    let stored = try AuditedEvent.decode(row)
                    account = Account.evolve(account, try Self.accountEvent(stored))
                    last = stored
                }
                state = account.map { .account(AccountSnapshot($0)) }
            }
            return AsOfState(
                streamId: streamId, point: point.description, version: last?.streamVersion ?? 0, recordedAt: last?.recordedAt,
                latestVersion: latest, state: state)
        }
    }

    // MARK: seal

    /// A digest of every stream head now, with the count, the highest position and the time.
    public func seal() async throws -> Seal {
        try await withReadSnapshot { connection in
            var heads: [Seal.Head] = []
            var position: Int64 = 0
            let rows = try await connection.query("SELECT stream_id, last_version, last_hash, last_position FROM stream_heads", logger: logger)
            for try await (streamId, version, hash, lastPosition) in rows.decode((String, Int64, Data, Int64).self) {
                heads.append(Seal.Head(streamId: streamId, version: version, hash: Hex.encode([UInt8](hash))))
                position = max(position, lastPosition)
            }
            let now = try await connection.query(
                """
                SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                """, logger: logger)
            var sealedAt = ""
            for try await text in now.decode(String.self) { sealedAt = text }
            return Seal(heads: heads, position: position, sealedAt: sealedAt)
        }
    }

    // MARK: export

    /// Streams the history as NDJSON to `emit`, one event per line in the global order
    /// (transaction, then position), optionally only events recorded at or after `since` and of
    /// one stream. Each line carries every column: `data` and `metadata` as strings holding the
    /// exact jsonb text that was hashed, `recorded_at` as hashed, hashes in hex, so an auditor can
    /// recompute the chain from the export alone. Rows are fetched as they are written, never
    /// gathered in memory. Returns the number of lines. `progress` gets (lines written, lines in
    /// all) every thousand lines and at the end.
    @discardableResult
    public func export(
        since: Date? = nil, stream: String? = nil, progress: @Sendable (Int, Int) -> Void = { _, _ in }, _ emit: @Sendable (String) async throws -> Void
    ) async throws -> Int {
        try await withReadSnapshot { connection in
            let filter: PostgresQuery = """
                WHERE (\(since)::timestamptz IS NULL OR recorded_at >= \(since)::timestamptz)
                  AND (\(stream)::text IS NULL OR stream_id = \(stream)::text)
                """
            let total = try await Self.count("SELECT count(*) FROM events \(filter.sql)", binds: filter.binds, on: connection, logger: logger)
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT \(AuditedEvent.columns) FROM events \(filter.sql) ORDER BY events.transaction_id, events.global_position",
                    binds: filter.binds),
                logger: logger
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var count = 0
            for try await row in rows {
                let line = String(decoding: try encoder.encode(try AuditedEvent.decode(row)), as: UTF8.self)
                try await emit(line)
                count += 1
                if count % 1000 == 0 { progress(count, total) }
            }
            progress(count, total)
            return count
        }
    }

    // MARK: shared

    /// Runs `body` in a read-only REPEATABLE READ transaction without statement timeouts (see the type's comment).
    func withReadSnapshot<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                try await connection.query("SET LOCAL statement_timeout = 0", logger: logger)
                try await connection.query("SET LOCAL idle_in_transaction_session_timeout = 0", logger: logger)
                return try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    /// The one integer a `SELECT count(*) …` returns.
    static func count(_ sql: String, binds: PostgresBindings = PostgresBindings(), on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    static func readStream(_ streamId: String, on connection: PostgresConnection, logger: Logger) async throws -> [AuditedEvent] {
        let rows = try await connection.query(
            "SELECT \(unescaped: AuditedEvent.columns) FROM events WHERE stream_id = \(streamId) ORDER BY events.stream_version",
            logger: logger)
        var events: [AuditedEvent] = []
        for try await row in rows { events.append(try AuditedEvent.decode(row)) }
        return events
    }

    static func latestVersion(_ streamId: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = \(streamId)", logger: logger)
        for try await version in rows.decode(Int64.self) { return version }
        return 0
    }

    static func exchangeEvent(_ stored: AuditedEvent) throws -> ExchangeEvent {
        do {
            return try ExchangeEvent.decode(eventType: stored.eventType, schemaVersion: Int(stored.schemaVersion), data: Data(stored.data.utf8))
        } catch {
            throw AuditError.undecodable(streamId: stored.streamId, version: stored.streamVersion, reason: "\(error)")
        }
    }

    static func accountEvent(_ stored: AuditedEvent) throws -> AccountEvent {
        do {
            return try AccountEvent.decode(eventType: stored.eventType, schemaVersion: Int(stored.schemaVersion), data: Data(stored.data.utf8))
        } catch {
            throw AuditError.undecodable(streamId: stored.streamId, version: stored.streamVersion, reason: "\(error)")
        }
    }
}

extension AccountEvent {
    /// The exchange an account event belongs to, for the events an exchange causes.
    var exchangeId: ExchangeID? {
        switch self {
        case .held(let held): held.exchangeId
        case .released(let released): released.exchangeId
        case .settled(let settled): settled.exchangeId
        case .opened, .deposited, .withdrawn: nil
        }
    }
}
