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
    /// Applies one batch and, when its last write is one statement that can carry it, advances
    /// the checkpoint in that statement (`\(advancing:)`); returns whether it did, and the runner
    /// advances it otherwise. A round trip less while the batch holds a transaction id, which
    /// every runner's reads wait behind (the xid8 rule). By default: `apply`, then false.
    func apply(_ events: [RecordedEvent], advancing checkpoint: CheckpointAdvance, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool
}

extension AsyncProjection {
    public func apply(_ events: [RecordedEvent], advancing checkpoint: CheckpointAdvance, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        try await apply(events, on: connection, logger: logger)
        return false
    }
}

/// A runner's checkpoint moved to its batch's last event, for a projection to write in its own
/// statement (`AsyncProjection.apply(_:advancing:on:logger:)`).
public struct CheckpointAdvance: Sendable {
    public let name: String
    public let cursor: GlobalCursor
}

extension PostgresQuery.StringInterpolation {
    /// A data-modifying CTE (`advanced_checkpoint AS (…),`, with its comma) that moves the
    /// checkpoint, the same write as the runner's own `AdvanceCheckpoint`; nothing when nil. Put
    /// it first among a statement's `WITH` items.
    public mutating func appendInterpolation(advancing checkpoint: CheckpointAdvance?) {
        guard let checkpoint else { return }
        appendLiteral("advanced_checkpoint AS (INSERT INTO checkpoints (name, transaction_id, position, updated_at) VALUES (")
        appendInterpolation(checkpoint.name)
        appendLiteral(", ")
        appendInterpolation(String(checkpoint.cursor.transactionId))
        appendLiteral("::xid8, ")
        appendInterpolation(checkpoint.cursor.position)
        appendLiteral(
            ", now()) ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()), "
        )
    }
}

/// Follows the global order with the xid8 rule (never skipping a late commit) and applies each
/// batch and its checkpoint in one transaction: a crash between batches repeats nothing and
/// loses nothing. The checkpoint row is locked for the batch (`SKIP LOCKED`), so of any number
/// of runners in any number of processes one applies a batch and the others stand by.
public struct ProjectionRunner: Service {
    public let projection: any AsyncProjection
    public let client: PostgresClient
    public let logger: Logger
    public let batchSize: Int
    /// How far the read model trails the event store, for Prometheus.
    let lagEvents: Gauge
    let lagMilliseconds: Gauge

    public init(
        projection: any AsyncProjection, client: PostgresClient, logger: Logger, batchSize: Int = 1000,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.projection = projection
        self.client = client
        self.logger = logger
        self.batchSize = batchSize
        let dimensions = [("projection", projection.name)]
        self.lagEvents = Gauge(label: "swapline_projection_lag_events", dimensions: dimensions, factory: metrics)
        self.lagMilliseconds = Gauge(label: "swapline_projection_lag_milliseconds", dimensions: dimensions, factory: metrics)
    }

    /// Applies at most one batch; returns how many events it applied (0 when caught up or
    /// when another runner holds the projection).
    @discardableResult
    public func runOnce() async throws -> Int {
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
            let events = try await EventStore.decode(
                try await connection.execute(Prepared(ReadAfterCheckpoint.self, try PostgresBindings(name, batchSize)), logger: logger))
            guard let last = events.last else { return 0 }
            let checkpoint = CheckpointAdvance(name: name, cursor: GlobalCursor(transactionId: last.transactionId, position: last.globalPosition))
            if try await !projection.apply(events, advancing: checkpoint, on: connection, logger: logger) {
                try await connection.run(
                    AdvanceCheckpoint.self, try PostgresBindings(String(last.transactionId), last.globalPosition, name), logger: logger)
            }
            return events.count
        }
    }

    // A batch's statements, prepared: a runner sends them for every batch, and a woken runner
    // with nothing to do still sends the first two.
    enum AdvanceCheckpoint: PreparedSQL {
        static let sql = """
            INSERT INTO checkpoints (name, transaction_id, position, updated_at) VALUES ($3, $1::xid8, $2, now())
            ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
            """
    }

    /// The global order's next events after the checkpoint (from the start when there is none),
    /// by the xid8 rule of `EventStore.readGlobal`. The checkpoint's fields are init plans, so
    /// the events are still a range scan of the global-order index.
    enum ReadAfterCheckpoint: PreparedSQL {
        static let sql = EventStore.globalOrderSQL(
            after: """
                (COALESCE((SELECT transaction_id FROM checkpoints WHERE name = $1), '0'::xid8),
                 COALESCE((SELECT position FROM checkpoints WHERE name = $1), 0))
                """,
            limit: "$2")
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

    enum ReadCheckpoint: PreparedSQL {
        static let sql = "SELECT transaction_id::text, position FROM checkpoints WHERE name = $1"
    }

    /// Waits for the projection's advisory lock and holds it for the transaction: one runner (or
    /// rebuild swap) at a time, in any number of processes. (A runner only tries it,
    /// `tryLock`.) Not a row lock on the checkpoint: `FOR UPDATE` gives the
    /// batch a transaction id from its first statement, and while that id is open no runner can
    /// read past it (the visibility horizon), so every other runner waited for this batch.
    /// Without it the batch gets an id only when it first writes, at its end.
    public static func lock(_ name: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(lockClass), hashtext(\(name)))", logger: logger)
    }

    /// The first key of the projections' advisory locks (the migrator's lock is a single key).
    static let lockClass: Int32 = 7_120_002

    /// Where the projection stands; nil before its first batch.
    static func checkpoint(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> GlobalCursor? {
        for try await row in try await connection.execute(Prepared(ReadCheckpoint.self, try PostgresBindings(name)), logger: logger) {
            let (transaction, position) = try row.decode((String, Int64).self)
            return GlobalCursor(transactionId: UInt64(transaction) ?? 0, position: position)
        }
        return nil
    }

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
            // The checkpoint first, then a range scan from it on the global-order index: one
            // statement joining the two scanned the whole event table on every call.
            let cursor = try await checkpoint(name, on: connection, logger: logger) ?? .start
            // From the event's commit when the server records commit times (`track_commit_timestamp`),
            // else from `recorded_at`, the appending transaction's start, which adds that
            // transaction's own length to the lag.
            let rows = try await connection.query(
                """
                SELECT count(*), COALESCE(GREATEST(0, EXTRACT(EPOCH FROM (now() - min(
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

    /// Runs until graceful shutdown: woken by the appends' NOTIFY, polling once a second as a fallback.
    public func run() async throws {
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
