import Logging
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

    public init(projection: any AsyncProjection, client: PostgresClient, logger: Logger, batchSize: Int = 1000) {
        self.projection = projection
        self.client = client
        self.logger = logger
        self.batchSize = batchSize
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
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    // A full batch means more is waiting; otherwise wait for the next append.
                    if try await runOnce() < batchSize { await doorbell.wait(upTo: .seconds(1)) }
                } catch {
                    logger.error("projection batch failed", metadata: ["projection": "\(projection.name)", "error": "\(String(reflecting: error))"])
                    await doorbell.wait(upTo: .seconds(1))
                }
            }
            group.cancelAll()
        }
    }
}
