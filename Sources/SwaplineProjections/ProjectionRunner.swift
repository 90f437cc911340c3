import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SwaplineEventStore

/// A read model kept by a runner that follows the global order after the fact.
public protocol AsyncProjection: Sendable {
    /// Also the name of its checkpoint.
    var name: String { get }
    /// Applies one batch inside the runner's transaction, which also advances the checkpoint.
    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws
}

/// A projection that writes a whole batch in one statement. Its runner takes no transaction and
/// no lock: it reads the batch, then that one statement moves the checkpoint from where the batch
/// was read to its end and makes every write conditional on that move (`\(moving:)`,
/// `\(ifMoved:)`). Two round trips a batch instead of five (BEGIN, lock, read, write, COMMIT);
/// under load each of them waits for a core, and the projection's lag is made of them.
public protocol SingleStatementProjection: AsyncProjection {
    /// Writes the batch in one statement carrying the move; returns whether the checkpoint moved
    /// (false: another runner applied the batch first, and this statement wrote nothing), or nil
    /// when the batch has nothing to write, so the runner moves the checkpoint alone. Without a
    /// move it writes unconditionally, as `apply(_:on:logger:)` inside a caller's transaction.
    func apply(_ events: [RecordedEvent], moving checkpoint: CheckpointMove?, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool?
}

extension SingleStatementProjection {
    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await apply(events, moving: nil, on: connection, logger: logger)
    }
}

/// A runner's checkpoint moved from where a batch was read to the batch's last event, for a
/// `SingleStatementProjection` to carry in its statement.
public struct CheckpointMove: Sendable {
    public let name: String
    public let from: GlobalCursor
    public let to: GlobalCursor
}

extension PostgresQuery.StringInterpolation {
    /// A data-modifying CTE (`moved_checkpoint AS (…),`, with its comma) that moves the checkpoint
    /// only if it is still where the batch was read from (a compare-and-set: the upsert's `WHERE`
    /// sees the row's latest committed version, waiting for a concurrent mover's commit); nothing
    /// when nil. Put it first among a statement's `WITH` items, and gate every write with
    /// `\(ifMoved:)`.
    ///
    /// The statement commits without waiting for the WAL flush (`synchronous_commit` off for its
    /// transaction), so a reader sees the batch a flush sooner. Nothing is weakened: the events it
    /// read were flushed before they became visible, the checkpoint and the writes it gates commit
    /// or vanish together, and a crash can lose only the last such commits (any later flush, of
    /// any transaction, covers them), which the runner then applies again from the events.
    public mutating func appendInterpolation(moving checkpoint: CheckpointMove?) {
        guard let checkpoint else { return }
        appendLiteral("moved_checkpoint AS (INSERT INTO checkpoints (name, transaction_id, position, updated_at) SELECT ")
        appendInterpolation(checkpoint.name)
        appendLiteral(", ")
        appendInterpolation(String(checkpoint.to.transactionId))
        appendLiteral("::xid8, ")
        appendInterpolation(checkpoint.to.position)
        appendLiteral(
            ", now() FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now() WHERE (checkpoints.transaction_id, checkpoints.position) = ("
        )
        appendInterpolation(String(checkpoint.from.transactionId))
        appendLiteral("::xid8, ")
        appendInterpolation(checkpoint.from.position)
        appendLiteral(") RETURNING 1), ")
    }

    /// ` AND` the checkpoint moved, for a write's `WHERE`; nothing when nil.
    public mutating func appendInterpolation(ifMoved checkpoint: CheckpointMove?) {
        guard checkpoint != nil else { return }
        appendLiteral(" AND EXISTS (SELECT FROM moved_checkpoint)")
    }

    /// Whether the checkpoint moved, as a boolean expression (`true` when nil), for the
    /// statement's result.
    public mutating func appendInterpolation(whetherMoved checkpoint: CheckpointMove?) {
        appendLiteral(checkpoint == nil ? "true" : "EXISTS (SELECT FROM moved_checkpoint)")
    }
}

/// Follows the global order with the xid8 rule (never skipping a late commit) and applies each
/// batch and its checkpoint in one transaction: a crash between batches repeats nothing and
/// loses nothing. Of any number of runners in any number of processes one applies each batch: a
/// `SingleStatementProjection`'s statement moves the checkpoint by compare-and-set, any other
/// projection's batch holds the projection's advisory lock (`tryLock`), and the others stand by.
public struct ProjectionRunner: Service {
    public let projection: any AsyncProjection
    public let client: PostgresClient
    public let logger: Logger
    public let batchSize: Int
    /// How far the read model trails the event store, for Prometheus.
    let lagEvents: Gauge
    let lagMilliseconds: Gauge

    /// Where `run()` runs its tasks (nil: wherever the caller's would run).
    let executor: (any TaskExecutor)?

    public init(
        projection: any AsyncProjection, client: PostgresClient, logger: Logger, batchSize: Int = 1000,
        metrics: any MetricsFactory = MetricsSystem.factory, executor: (any TaskExecutor)? = nil
    ) {
        self.projection = projection
        self.client = client
        self.logger = logger
        self.batchSize = batchSize
        self.executor = executor
        let dimensions = [("projection", projection.name)]
        self.lagEvents = Gauge(label: "swapline_projection_lag_events", dimensions: dimensions, factory: metrics)
        self.lagMilliseconds = Gauge(label: "swapline_projection_lag_milliseconds", dimensions: dimensions, factory: metrics)
    }

    /// Applies at most one batch; returns how many events it applied (0 when caught up or
    /// when another runner applied the batch or holds the projection).
    @discardableResult
    public func runOnce() async throws -> Int {
        if let projection = projection as? any SingleStatementProjection {
            return try await runOnce(projection)
        }
        let name = projection.name
        let logger = self.logger
        let batchSize = self.batchSize
        let projection = self.projection
        return try await client.withTransaction(logger: logger) { connection in
            guard try await Self.tryLock(name, on: connection, logger: logger) else { return 0 }
            // The checkpoint is read by the same statement as the events after it, a statement
            // after the lock's: a statement's snapshot is taken when it starts, so a lock taken
            // inside the reading statement could see the checkpoint from before the last holder's
            // commit and apply its batch again.
            guard let batch = try await Self.readBatch(name, limit: batchSize, on: connection, logger: logger) else { return 0 }
            try await projection.apply(batch.events, on: connection, logger: logger)
            try await connection.run(
                AdvanceCheckpoint.self, try PostgresBindings(String(batch.move.to.transactionId), batch.move.to.position, name), logger: logger)
            return batch.events.count
        }
    }

    /// A batch in two statements outside any transaction: the read, then the projection's
    /// statement, which writes only if the checkpoint is still where the read found it. Another
    /// runner that moved it first wins; this one wrote nothing and reads again next time.
    func runOnce(_ projection: any SingleStatementProjection) async throws -> Int {
        let name = projection.name
        let logger = self.logger
        let batchSize = self.batchSize
        return try await client.withConnection { connection in
            guard let batch = try await Self.readBatch(name, limit: batchSize, on: connection, logger: logger) else { return 0 }
            var moved = try await projection.apply(batch.events, moving: batch.move, on: connection, logger: logger)
            if moved == nil { moved = try await Self.move(batch.move, on: connection, logger: logger) }
            return moved == true ? batch.events.count : 0
        }
    }

    /// The next batch after the checkpoint and the checkpoint's move to its end; nil when there is none.
    static func readBatch(_ name: String, limit: Int, on connection: PostgresConnection, logger: Logger) async throws
        -> (events: [RecordedEvent], move: CheckpointMove)?
    {
        var events: [RecordedEvent] = []
        var from = GlobalCursor.start
        for try await row in try await connection.execute(Prepared(ReadAfterCheckpoint.self, try PostgresBindings(name, limit)), logger: logger) {
            if events.isEmpty {
                let checkpoint = row.makeRandomAccess()
                from = GlobalCursor(
                    transactionId: UInt64(try checkpoint[EventStore.columnCount].decode(String.self)) ?? 0,
                    position: try checkpoint[EventStore.columnCount + 1].decode(Int64.self))
            }
            events.append(try EventStore.decode(row))
        }
        guard let last = events.last else { return nil }
        return (events, CheckpointMove(name: name, from: from, to: GlobalCursor(transactionId: last.transactionId, position: last.globalPosition)))
    }

    /// Moves the checkpoint alone, by compare-and-set; returns whether it moved.
    static func move(_ checkpoint: CheckpointMove, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "WITH \(moving: checkpoint) result AS (SELECT \(whetherMoved: checkpoint) AS moved) SELECT moved FROM result", logger: logger)
        for try await moved in rows.decode(Bool.self) { return moved }
        return false
    }

    // A batch's statements, prepared: a runner sends them for every batch, and a woken runner
    // with nothing to do still sends the read.
    enum AdvanceCheckpoint: PreparedSQL {
        static let sql = """
            INSERT INTO checkpoints (name, transaction_id, position, updated_at) VALUES ($3, $1::xid8, $2, now())
            ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
            """
    }

    /// The global order's next events after the checkpoint (from the start when there is none),
    /// by the xid8 rule of `EventStore.readGlobal`, each row followed by the checkpoint it read
    /// from. The checkpoint's fields are init plans, so the events are still a range scan of the
    /// global-order index.
    enum ReadAfterCheckpoint: PreparedSQL {
        static let transaction = "COALESCE((SELECT transaction_id FROM checkpoints WHERE name = $1), '0'::xid8)"
        static let position = "COALESCE((SELECT position FROM checkpoints WHERE name = $1), 0)"
        static let sql = EventStore.globalOrderSQL(
            after: "(\(transaction), \(position))", limit: "$2", alsoSelecting: "\(transaction)::text, \(position)")
    }

    enum TryLock: PreparedSQL {
        static let sql = "SELECT pg_try_advisory_xact_lock($1, hashtext($2))"
    }

    /// Tries the projection's advisory lock (`lock(_:on:logger:)`) without waiting: false when
    /// another runner holds it.
    static func tryLock(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        for try await row in try await connection.execute(Prepared(TryLock.self, try PostgresBindings(lockClass, name)), logger: logger) {
            return try row.decode(Bool.self)
        }
        return false
    }

    /// Waits for the projection's advisory lock and holds it for the transaction: one locking
    /// runner (or rebuild swap) at a time, in any number of processes. (A runner only tries it,
    /// `tryLock`; a `SingleStatementProjection`'s runner takes none.) Not a row lock on the
    /// checkpoint: `FOR UPDATE` gives the batch a transaction id from its first statement, and
    /// while that id is open no runner can read past it (the visibility horizon), so every other
    /// runner waited for this batch. Without it the batch gets an id only when it first writes,
    /// at its end.
    public static func lock(_ name: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(lockClass), hashtext(\(name)))", logger: logger)
    }

    /// The first key of the projections' advisory locks (the migrator's lock is a single key).
    static let lockClass: Int32 = 7_120_002

    /// Records the lag: events appended after the checkpoint, and how long ago the oldest of
    /// them was recorded (0 when caught up). A gauge, so it reads the head once per call.
    public func recordLag() async throws {
        let lag = try await Self.lag(of: projection.name, client: client, logger: logger)
        lagEvents.record(lag.events)
        lagMilliseconds.record(lag.milliseconds)
    }

    /// How far the projection named `name` trails the event store: events appended after its
    /// checkpoint, and how long ago the oldest of them committed (0 when caught up). What the
    /// `swapline_projection_lag_*` gauges show; the benchmarks sample it too.
    public static func lag(of name: String, client: PostgresClient, logger: Logger) async throws -> (events: Int64, milliseconds: Int64) {
        try await client.withConnection { connection in
            // The checkpoint and the clock at one instant, then the events after it counted from
            // that instant: counted from the second statement's own `now()`, the round trip
            // between the two (under load, a wait for a core) counted as lag. Not one statement:
            // with the checkpoint as a parameter or an init plan the planner cannot know the range
            // is the table's tail and scans the whole table in parallel (60 ms at 380,000 events,
            // and the lag benchmark samples ten times a second); with its values written into the
            // statement it is a range scan of the global-order index.
            var cursor = GlobalCursor.start
            var readAt: Date?
            for try await (transaction, position, now) in try await connection.execute(
                Prepared(ReadCheckpoint.self, try PostgresBindings(name)), logger: logger
            ).decode((String, Int64, Date).self) {
                cursor = GlobalCursor(transactionId: UInt64(transaction) ?? 0, position: position)
                readAt = now
            }
            // From the event's commit when the server records commit times (`track_commit_timestamp`),
            // else from `recorded_at`, the appending transaction's start, which adds that
            // transaction's own length to the lag.
            let rows = try await connection.query(
                """
                SELECT count(*), COALESCE(GREATEST(0, EXTRACT(EPOCH FROM (COALESCE(\(readAt)::timestamptz, now()) - min(
                    CASE WHEN current_setting('track_commit_timestamp')::boolean
                         THEN COALESCE(pg_xact_commit_timestamp(xmin), recorded_at) ELSE recorded_at END))) * 1000)::bigint, 0)
                FROM events
                WHERE (transaction_id, global_position) > (\(String(cursor.transactionId))::xid8, \(cursor.position))
                """,
                logger: logger)
            for try await (events, milliseconds) in rows.decode((Int64, Int64).self) {
                return (events, milliseconds)
            }
            return (0, 0)
        }
    }

    enum ReadCheckpoint: PreparedSQL {
        static let sql = "SELECT transaction_id::text, position, now() FROM checkpoints WHERE name = $1"
    }

    /// Runs until graceful shutdown: woken by the appends' NOTIFY, polling once a second as a fallback.
    public func run() async throws {
        await withTaskExecutorPreference(executor) { await follow() }
    }

    private func follow() async {
        let doorbell = Doorbell()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await doorbell.listen(on: EventStore.notificationChannel, client: client, logger: logger)
            }
            group.addTask {
                try? await gracefulShutdown()
                await doorbell.ring()
            }
            var lagRecordedAt: ContinuousClock.Instant?
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    // A full batch means more is waiting; otherwise wait for the next append.
                    let applied = try await runOnce()
                    // Counting what is left costs as much as the lag is long: once a second is enough.
                    let now = ContinuousClock.now
                    if lagRecordedAt.map({ now - $0 >= .seconds(1) }) ?? true {
                        try await recordLag()
                        lagRecordedAt = now
                    }
                    if applied < batchSize { await doorbell.wait(upTo: .seconds(1)) }
                } catch {
                    logger.error("projection batch failed", metadata: ["projection": "\(projection.name)", "error": "\(String(reflecting: error))"])
                    await doorbell.wait(upTo: .seconds(1))
                }
            }
            group.cancelAll()
        }
    }
}
