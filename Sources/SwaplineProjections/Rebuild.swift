import Foundation
import Logging
import PostgresNIO
import SwaplineEventStore

/// A read model that can be replayed from zero into a fresh copy of its tables.
public protocol RebuildableProjection: Sendable {
    var name: String { get }
    /// Its tables, unqualified, all in the `read` schema.
    var tables: [String] { get }
    /// Kept in the append's transaction (true) or by a projection runner (false).
    var isInline: Bool { get }
    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws
    /// The same projection writing to another schema's copies of its tables.
    func writing(to schema: String) -> any RebuildableProjection
}

extension ReadModels {
    public static let rebuildable: [any RebuildableProjection] = [ExchangesReadModel(), BalancesReadModel(), ExchangeStatistics()]

    public static func named(_ name: String) -> (any RebuildableProjection)? {
        rebuildable.first { $0.name == name }
    }
}

/// How far a rebuild has come.
public struct RebuildProgress: Sendable {
    public var applied: Int
    public var total: Int
    public var elapsed: Duration
}

/// Replays a projection from the first event into fresh copies of its tables while the live
/// ones keep serving, then catches up and swaps the copies in, in one transaction.
///
/// The swap holds the live tables (inline models: EXCLUSIVE, so readers go on and writers wait)
/// or the runner's checkpoint (runner models), so no write lands between the catch-up and the
/// swap. Writers that waited find the new tables by name once the swap commits.
public struct ProjectionRebuilder: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    public let batchSize: Int

    public init(client: PostgresClient, logger: Logger, batchSize: Int = 5000) {
        self.client = client
        self.logger = logger
        self.batchSize = batchSize
    }

    /// Runs as the owner of the schema: it creates, drops and renames tables.
    public func rebuild(_ projection: any RebuildableProjection, progress: @Sendable (RebuildProgress) -> Void = { _ in }) async throws {
        let logger = self.logger
        let copySchema = "rebuild_\(projection.name)"
        let copy = projection.writing(to: copySchema)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DROP SCHEMA IF EXISTS \(unescaped: copySchema) CASCADE", logger: logger)
            try await connection.query("CREATE SCHEMA \(unescaped: copySchema)", logger: logger)
            for table in projection.tables {
                try await connection.query(
                    "CREATE TABLE \(unescaped: copySchema).\(unescaped: table) (LIKE read.\(unescaped: table) INCLUDING ALL)", logger: logger)
            }
        }
        let total = try await client.query("SELECT count(*) FROM events", logger: logger).decode(Int64.self).first { _ in true } ?? 0
        let started = ContinuousClock.now
        var cursor = GlobalCursor.start
        var applied = 0
        while true {
            let batch = try await client.withTransaction(logger: logger) { connection in
                let events = try await EventStore.readGlobal(after: cursor, limit: batchSize, on: connection, logger: logger)
                if !events.isEmpty { try await copy.apply(events, on: connection, logger: logger) }
                return events
            }
            guard let last = batch.last else { break }
            cursor = last.cursor
            applied += batch.count
            progress(RebuildProgress(applied: applied, total: Int(total), elapsed: ContinuousClock.now - started))
        }
        let from = cursor
        try await client.withTransaction(logger: logger) { connection in
            var cursor = from
            if projection.isInline {
                let live = projection.tables.map { "read.\($0)" }.joined(separator: ", ")
                try await connection.query("LOCK TABLE \(unescaped: live) IN EXCLUSIVE MODE", logger: logger)
                // Every transaction that wrote these tables has committed and the rest wait on the
                // lock, so all events after the cursor are visible now: no horizon needed.
                while true {
                    let rows = try await connection.query(
                        """
                        SELECT \(unescaped: EventStore.columns) FROM events
                        WHERE (transaction_id, global_position) > (\(String(cursor.transactionId))::xid8, \(cursor.position))
                        ORDER BY events.transaction_id, events.global_position LIMIT \(batchSize)
                        """, logger: logger)
                    let events = try await EventStore.decode(rows)
                    guard let last = events.last else { break }
                    try await copy.apply(events, on: connection, logger: logger)
                    cursor = last.cursor
                }
            } else {
                try await connection.query(
                    "INSERT INTO checkpoints (name) VALUES (\(projection.name)) ON CONFLICT (name) DO NOTHING", logger: logger)
                try await connection.query("SELECT 1 FROM checkpoints WHERE name = \(projection.name) FOR UPDATE", logger: logger)
                while true {
                    let events = try await EventStore.readGlobal(after: cursor, limit: batchSize, on: connection, logger: logger)
                    guard let last = events.last else { break }
                    try await copy.apply(events, on: connection, logger: logger)
                    cursor = last.cursor
                }
                try await connection.query(
                    """
                    UPDATE checkpoints SET transaction_id = \(String(cursor.transactionId))::xid8, position = \(cursor.position), updated_at = now()
                    WHERE name = \(projection.name)
                    """, logger: logger)
            }
            for table in projection.tables {
                try await connection.query("DROP TABLE read.\(unescaped: table)", logger: logger)
                try await connection.query("ALTER TABLE \(unescaped: copySchema).\(unescaped: table) SET SCHEMA read", logger: logger)
                try await connection.query(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON read.\(unescaped: table) TO swapline_app", logger: logger)
                try await connection.query(
                    "GRANT SELECT ON read.\(unescaped: table) TO swapline_analyst, swapline_auditor", logger: logger)
            }
            try await connection.query("DROP SCHEMA \(unescaped: copySchema) CASCADE", logger: logger)
        }
    }
}

/// Where a projection stands against the head of the event store.
public struct ProjectionStatus: Sendable {
    public var name: String
    public var isInline: Bool
    public var cursor: GlobalCursor?
    public var eventsBehind: Int64
    public var secondsBehind: Decimal
}

extension ProjectionRebuilder {
    public func status() async throws -> [ProjectionStatus] {
        var statuses: [ProjectionStatus] = []
        for projection in ReadModels.rebuildable {
            guard !projection.isInline else {
                statuses.append(ProjectionStatus(name: projection.name, isInline: true, cursor: nil, eventsBehind: 0, secondsBehind: 0))
                continue
            }
            let rows = try await client.query(
                """
                SELECT c.transaction_id::text, c.position, count(e.global_position),
                       COALESCE(round(EXTRACT(EPOCH FROM (now() - min(e.recorded_at))), 3), 0)::text
                FROM (SELECT COALESCE((SELECT transaction_id FROM checkpoints WHERE name = \(projection.name)), '0'::xid8) AS transaction_id,
                             COALESCE((SELECT position FROM checkpoints WHERE name = \(projection.name)), 0) AS position) c
                LEFT JOIN events e ON (e.transaction_id, e.global_position) > (c.transaction_id, c.position)
                GROUP BY c.transaction_id, c.position
                """, logger: logger)
            for try await (transaction, position, behind, seconds) in rows.decode((String, Int64, Int64, String).self) {
                statuses.append(
                    ProjectionStatus(
                        name: projection.name, isInline: false,
                        cursor: GlobalCursor(transactionId: UInt64(transaction) ?? 0, position: position), eventsBehind: behind,
                        secondsBehind: Decimal(string: seconds) ?? 0))
            }
        }
        return statuses
    }
}
