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
            try await connection.query(
                "INSERT INTO checkpoints (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING", logger: logger)
            let rows = try await connection.query(
                "SELECT transaction_id::text, position FROM checkpoints WHERE name = \(name) FOR UPDATE SKIP LOCKED",
                logger: logger)
            var cursor: GlobalCursor?
            for try await (transaction, position) in rows.decode((String, Int64).self) {
                cursor = GlobalCursor(transactionId: UInt64(transaction) ?? 0, position: position)
            }
            guard let cursor else { return 0 }
            let events = try await EventStore.readGlobal(after: cursor, limit: batchSize, on: connection, logger: logger)
            guard let last = events.last else { return 0 }
            try await projection.apply(events, on: connection, logger: logger)
            try await connection.query(
                """
                UPDATE checkpoints SET transaction_id = \(String(last.transactionId))::xid8, position = \(last.globalPosition),
                    updated_at = now()
                WHERE name = \(name)
                """,
                logger: logger)
            return events.count
        }
    }

    /// Records the lag: events appended after the checkpoint, and how long ago the oldest of
    /// them was recorded (0 when caught up). A gauge, so it reads the head once per call.
    public func recordLag() async throws {
        let lag = try await Self.lag(of: projection.name, client: client, logger: logger)
        lagEvents.record(lag.events)
        lagMilliseconds.record(lag.milliseconds)
    }

    /// How far the projection named `name` trails the event store: events appended after its
    /// checkpoint, and how long ago the oldest of them was recorded (0 when caught up). What the
    /// `swapline_projection_lag_*` gauges show; the benchmarks sample it too.
    public static func lag(of name: String, client: PostgresClient, logger: Logger) async throws -> (events: Int64, milliseconds: Int64) {
        let rows = try await client.query(
            """
            SELECT count(*), COALESCE((EXTRACT(EPOCH FROM (now() - min(e.recorded_at))) * 1000)::bigint, 0)
            FROM events e,
                 (SELECT COALESCE((SELECT transaction_id FROM checkpoints WHERE name = \(name)), '0'::xid8) AS transaction_id,
                         COALESCE((SELECT position FROM checkpoints WHERE name = \(name)), 0) AS position) c
            WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.position)
            """,
            logger: logger)
        for try await (events, milliseconds) in rows.decode((Int64, Int64).self) {
            return (events, milliseconds)
        }
        return (0, 0)
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
