import Foundation
import Synchronization
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
    /// Applies the selected events, straight from the event table, in one or a few statements.
    func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws
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
/// The swap holds the live tables (EXCLUSIVE, so readers go on and writers wait) and, for runner
/// models, the runners' lock, so no write lands between the catch-up and the swap. Writers that
/// waited find the new tables by name once the swap commits.
public struct ProjectionRebuilder: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    public let batchSize: Int

    /// Events per statement: large, because each batch is a few set-based statements over the
    /// event table, and small enough that one batch's fold stays in `workMemory`.
    public init(client: PostgresClient, logger: Logger, batchSize: Int = 100_000) {
        self.client = client
        self.logger = logger
        self.batchSize = batchSize
    }

    static let workMemory = "256MB"

    /// Rebuilds several read models at once, each on its own connection: each rebuild is one
    /// server process working through its statements, so on a machine with more than one core
    /// they overlap. Progress is the sum over all of them. If one fails, the others are
    /// cancelled; a model already swapped in stays rebuilt.
    public func rebuild(_ projections: [any RebuildableProjection], progress: @escaping @Sendable (RebuildProgress) -> Void = { _ in })
        async throws
    {
        let parts = ProgressParts()
        // Counted once for all of them: a count is a scan of the whole table.
        let total = try await eventCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for projection in projections {
                group.addTask {
                    try await rebuild(projection, eventCount: total) { part in progress(parts.update(projection.name, part)) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The events in the table: a rebuild's progress counts towards it.
    func eventCount() async throws -> Int64 {
        try await client.query("SELECT count(*) FROM events", logger: logger).decode(Int64.self).first { _ in true } ?? 0
    }

    /// Runs as the owner of the schema: it creates, drops and renames tables.
    public func rebuild(_ projection: any RebuildableProjection, progress: @Sendable (RebuildProgress) -> Void = { _ in }) async throws {
        try await rebuild(projection, eventCount: try await eventCount(), progress: progress)
    }

    /// `eventCount`: the events in the table, what the progress counts towards.
    func rebuild(_ projection: any RebuildableProjection, eventCount total: Int64, progress: @Sendable (RebuildProgress) -> Void) async throws {
        let logger = self.logger
        let copySchema = "rebuild_\(projection.name)"
        let copy = projection.writing(to: copySchema)
        // The copies start without their secondary indexes, which are built once at the end:
        // a bulk build is several times cheaper than keeping them up to date row by row.
        let secondaryIndexes = try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DROP SCHEMA IF EXISTS \(unescaped: copySchema) CASCADE", logger: logger)
            try await connection.query("CREATE SCHEMA \(unescaped: copySchema)", logger: logger)
            for table in projection.tables {
                try await connection.query(
                    "CREATE TABLE \(unescaped: copySchema).\(unescaped: table) (LIKE read.\(unescaped: table) INCLUDING ALL)", logger: logger)
            }
            // The live tables' definitions, so the rebuilt indexes keep their names.
            let rows = try await connection.query(
                """
                SELECT table_class.relname, pg_get_indexdef(pg_index.indexrelid)
                FROM pg_index JOIN pg_class AS table_class ON table_class.oid = pg_index.indrelid
                JOIN pg_namespace ON pg_namespace.oid = table_class.relnamespace
                WHERE pg_namespace.nspname = 'read' AND table_class.relname = ANY(\(projection.tables)) AND NOT pg_index.indisunique
                """, logger: logger)
            var definitions: [String] = []
            for try await (table, definition) in rows.decode((String, String).self) {
                definitions.append(definition.replacingOccurrences(of: " ON read.\(table) ", with: " ON \(copySchema).\(table) "))
            }
            let copies = try await connection.query(
                """
                SELECT index_class.relname FROM pg_index JOIN pg_class AS index_class ON index_class.oid = pg_index.indexrelid
                JOIN pg_namespace ON pg_namespace.oid = index_class.relnamespace
                WHERE pg_namespace.nspname = \(copySchema) AND NOT pg_index.indisunique
                """, logger: logger)
            var names: [String] = []
            for try await name in copies.decode(String.self) { names.append(name) }
            for name in names {
                try await connection.query("DROP INDEX \(unescaped: copySchema).\(unescaped: name)", logger: logger)
            }
            return definitions
        }
        let started = ContinuousClock.now
        var cursor = GlobalCursor.start
        var applied = 0
        var batches = 0
        while true {
            batches += 1
            // The copies start empty; without fresh statistics the planner keeps planning for
            // empty tables (a nested loop over a sequential scan: minutes per batch). Analysed
            // after batches 1, 2, 4, 8, …: the statistics stay within half of the rows, and an
            // ANALYZE samples as many rows however large the table (~80 ms for the exchanges'
            // copy, after each of 47 batches in the benchmark's rebuild).
            let analyze = batches & (batches - 1) == 0
            let batch = try await client.withTransaction(logger: logger) { connection in
                try await Self.configureForBulk(connection, logger: logger)
                guard let (through, count) = try await Self.batchEnd(after: cursor, limit: batchSize, on: connection, logger: logger) else {
                    return (cursor, 0)
                }
                try await copy.apply(.range(after: cursor, through: through), on: connection, logger: logger)
                for table in projection.tables where analyze {
                    try await connection.query("ANALYZE \(unescaped: copySchema).\(unescaped: table)", logger: logger)
                }
                return (through, count)
            }
            guard batch.1 > 0 else { break }
            cursor = batch.0
            applied += batch.1
            progress(RebuildProgress(applied: applied, total: Int(total), elapsed: ContinuousClock.now - started))
        }
        for definition in secondaryIndexes {
            try await client.query(PostgresQuery(unsafeSQL: definition), logger: logger)
        }
        let from = cursor
        try await client.withTransaction(logger: logger) { connection in
            try await Self.configureForBulk(connection, logger: logger)
            let live = projection.tables.map { "read.\($0)" }.joined(separator: ", ")
            if projection.isInline {
                try await connection.query("LOCK TABLE \(unescaped: live) IN EXCLUSIVE MODE", logger: logger)
                // Every transaction that wrote these tables has committed and the rest wait on the
                // lock, so all events after the cursor are visible now: no horizon needed.
                try await Self.catchUp(copy, from: from, horizon: false, batchSize: batchSize, on: connection, logger: logger)
            } else {
                // A batch in progress finishes first, and none starts until the swap commits: a
                // locking runner's batch holds the projection's lock, a single-statement one its
                // tables (a statement waiting here takes its snapshot after, so it sees the new
                // tables and checkpoint). The tables before the checkpoint row: such a statement
                // opens its tables before it waits for that row, so the other order deadlocks
                // (the swap's DROP waiting for the statement, the statement for the row).
                try await ProjectionRunner.lock(projection.name, on: connection, logger: logger)
                try await connection.query("LOCK TABLE \(unescaped: live) IN EXCLUSIVE MODE", logger: logger)
                try await connection.query(
                    "INSERT INTO checkpoints (name) VALUES (\(projection.name)) ON CONFLICT (name) DO NOTHING", logger: logger)
                let cursor = try await Self.catchUp(copy, from: from, horizon: true, batchSize: batchSize, on: connection, logger: logger)
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

    /// Sorting and grouping a batch happens in memory, not in temporary files; joins are hash
    /// joins. A copy's statistics trail what the batch before wrote in the same transaction (a
    /// copy whose every exchange had finished is planned as if none were open), and a nested
    /// loop planned on that took minutes for one batch of exchange statistics. No JIT: a batch's
    /// statements cost enough for PostgreSQL to compile them, and compiling them cost more than
    /// it saved (1,000,000 events: 7.0 and 8.1 s with it, 6.0 and 6.2 s without).
    static func configureForBulk(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SET LOCAL work_mem = '\(unescaped: workMemory)'", logger: logger)
        try await connection.query("SET LOCAL enable_nestloop = off", logger: logger)
        try await connection.query("SET LOCAL jit = off", logger: logger)
    }

    /// Applies every event after `cursor` in batches; returns where it stopped.
    @discardableResult
    static func catchUp(
        _ copy: any RebuildableProjection, from cursor: GlobalCursor, horizon: Bool, batchSize: Int, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> GlobalCursor {
        var cursor = cursor
        while let (through, _) = try await batchEnd(after: cursor, limit: batchSize, horizon: horizon, on: connection, logger: logger) {
            try await copy.apply(.range(after: cursor, through: through), on: connection, logger: logger)
            cursor = through
        }
        return cursor
    }

    /// The last of the next `limit` events after `cursor` in the global order, and how many there
    /// are; nil when there are none. With `horizon`, only events of transactions older than every
    /// running one count, so no event can later appear inside the range (the runners' rule).
    /// A full batch's end is the `limit`-th entry of the global-order index (an index-only scan);
    /// only the last, shorter batch is counted and sorted (the second branch runs only when the
    /// first found nothing). Counting every batch (a window over all its rows) took 45–70 ms of
    /// the 12–18 this takes, three read models each.
    static func batchEnd(
        after cursor: GlobalCursor, limit: Int, horizon: Bool = true, on connection: PostgresConnection, logger: Logger
    ) async throws -> (GlobalCursor, Int)? {
        let after = "(events.transaction_id, events.global_position) > ('\(cursor.transactionId)'::xid8, \(cursor.position))"
        let visible = "(NOT \(horizon) OR events.transaction_id < pg_snapshot_xmin(pg_current_snapshot()))"
        let rows = try await connection.query(
            """
            SELECT transaction_id::text, global_position, count FROM (
                (SELECT events.transaction_id, events.global_position, \(Int64(limit)) AS count FROM events
                 WHERE \(unescaped: after) AND \(unescaped: visible)
                 ORDER BY events.transaction_id, events.global_position OFFSET \(Int64(limit - 1)) LIMIT 1)
                UNION ALL
                (SELECT transaction_id, global_position, count(*) OVER () FROM (
                    SELECT events.transaction_id, events.global_position FROM events
                    WHERE \(unescaped: after) AND \(unescaped: visible)
                    ORDER BY events.transaction_id, events.global_position LIMIT \(Int64(limit))) AS batch
                 ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
            ) AS batch_end LIMIT 1
            """, logger: logger)
        for try await (transaction, position, count) in rows.decode((String, Int64, Int64).self) {
            return (GlobalCursor(transactionId: UInt64(transaction) ?? 0, position: position), Int(count))
        }
        return nil
    }
}

/// The progress of rebuilds running at once, summed.
final class ProgressParts: Sendable {
    private let parts = Mutex([String: RebuildProgress]())

    func update(_ name: String, _ part: RebuildProgress) -> RebuildProgress {
        parts.withLock { parts in
            parts[name] = part
            return parts.values.reduce(RebuildProgress(applied: 0, total: 0, elapsed: part.elapsed)) {
                RebuildProgress(applied: $0.applied + $1.applied, total: $0.total + $1.total, elapsed: max($0.elapsed, $1.elapsed))
            }
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
