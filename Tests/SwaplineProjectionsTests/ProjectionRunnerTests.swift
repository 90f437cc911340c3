import Crypto
import Foundation
import Logging
import PostgresNIO
import Prometheus
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineProjections
import SwaplineTestSupport
import Synchronization
import Testing

/// Applies the real projection, then fails the chosen batch after its writes: a crash mid-batch.
struct CrashingProjection: AsyncProjection {
    let inner: any AsyncProjection
    let failingBatch: Int
    let batches = BatchCounter()
    var name: String { inner.name }

    final class BatchCounter: Sendable {
        private let count = Atomic<Int>(0)
        func next() -> Int { count.add(1, ordering: .relaxed).newValue }
    }

    struct Crash: Error {}

    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        try await inner.apply(events, on: connection, logger: logger)
        if batches.next() == failingBatch { throw Crash() }
    }
}

/// Records every applied position under a primary key, so applying one twice fails loudly.
struct RecordingProjection: AsyncProjection {
    let name = "recording"
    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for event in events {
            try await connection.query("INSERT INTO applied_positions (position) VALUES (\(event.globalPosition))", logger: logger)
        }
    }
}

/// `RecordingProjection` as one statement conditional on the checkpoint's move: the runner's
/// lock-free path, where two runners may read the same batch and only one may write it.
struct RecordingInOneStatement: SingleStatementProjection {
    let name = "recording_in_one_statement"

    func apply(_ events: [RecordedEvent], moving checkpoint: CheckpointMove?, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool?
    {
        let rows = try await connection.query(
            """
            WITH \(moving: checkpoint) inserted AS (
                INSERT INTO applied_positions (position) SELECT unnest(\(events.map(\.globalPosition))::bigint[]) WHERE true\(ifMoved: checkpoint))
            SELECT \(whetherMoved: checkpoint)
            """, logger: logger)
        for try await moved in rows.decode(Bool.self) { return moved }
        return false
    }
}

/// Notes whether the batch's transaction already had a transaction id when `apply` began.
struct XidProbingProjection: AsyncProjection {
    let name = "xid_probe"
    let seen = Seen()

    final class Seen: Sendable {
        let assigned = Mutex<[Bool]>([])
    }

    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("SELECT pg_current_xact_id_if_assigned() IS NOT NULL", logger: logger)
        for try await isAssigned in rows.decode(Bool.self) { seen.assigned.withLock { $0.append(isAssigned) } }
    }
}

@Suite("Projection runner against PostgreSQL")
struct ProjectionRunnerTests {
    static let secrets = SecretBox(masterKey: .init(data: Data(repeating: 9, count: 32)))

    /// Some history: three accounts, completed and failed exchanges.
    static func makeHistory(_ database: TestDatabase) async throws {
        let logger = database.logger
        let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: logger)
        let exchanges = ExchangeService(client: database.app, market: .defaults, logger: logger)
        let good = ExecutionWorker(client: database.app, venue: SimulatedVenue(client: database.app, logger: logger), market: .defaults, logger: logger)
        let bad = ExecutionWorker(
            client: database.app, venue: SimulatedVenue(client: database.app, failureRate: 1, logger: logger), market: .defaults, logger: logger)
        let pair = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
        for index in 0..<3 {
            let merchant = try await accounts.create(name: "Merchant \(index)")
            _ = try await accounts.deposit(account: merchant.account, currency: "USDT_TRX", amountText: "5000")
            for amount in ["100", "250.50", "75"] {
                _ = try await exchanges.create(
                    account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: amount), metadata: EventMetadata(actor: "test"))
            }
            let worker = index == 2 ? bad : good
            _ = try await eventually("exchanges finished") {
                try await worker.runOnce()
                let open = try await database.app.query("SELECT count(*) FROM execution_queue").decode(Int64.self).first { _ in true }
                return open == 0 ? true : nil
            }
        }
    }

    static func snapshot(_ database: TestDatabase) async throws -> [String] {
        var lines: [String] = []
        for table in ExchangeStatistics().tables.map({ "read.\($0)" }) {
            let rows = try await database.owner.query(
                PostgresQuery(unsafeSQL: "SELECT t::text FROM \(table) t ORDER BY t::text"))
            for try await line in rows.decode(String.self) { lines.append("\(table) \(line)") }
        }
        return lines
    }

    /// Runs until no event is left after the runner's checkpoint. One pass to "nothing more" is not
    /// enough: a runner reads only below the oldest transaction still open on the cluster (the
    /// xid8 rule), and other tests' transactions on the shared cluster can hold it back a moment.
    static func catchUp(_ runner: ProjectionRunner) async throws {
        _ = try await eventually("\(runner.projection.name) caught up with the last event") { () -> Bool? in
            while try await runner.runOnce() > 0 {}
            // No event after the checkpoint in the order the runner reads (transaction, position),
            // as `ProjectionRebuilder.status()` counts the events behind.
            let name = runner.projection.name
            let rows = try await runner.client.query(
                """
                SELECT NOT EXISTS (
                    SELECT 1 FROM events e,
                        (SELECT COALESCE((SELECT transaction_id FROM checkpoints WHERE name = \(name)), '0'::xid8) AS transaction_id,
                                COALESCE((SELECT position FROM checkpoints WHERE name = \(name)), 0) AS position) c
                    WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.position))
                """, logger: runner.logger)
            for try await caughtUp in rows.decode(Bool.self) where caughtUp { return true }
            return nil
        }
    }

    @Test func aRunnerCrashedMidBatchAndRestartedMatchesAnUninterruptedRun() async throws {
        try await TestDatabase.with { database in
            try await Self.makeHistory(database)
            let crashing = ProjectionRunner(
                projection: CrashingProjection(inner: ExchangeStatistics(), failingBatch: 3), client: database.app, logger: database.logger,
                batchSize: 4)
            await #expect(throws: (any Error).self) { try await Self.catchUp(crashing) }
            try await Self.catchUp(ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger, batchSize: 4))
            let interrupted = try await Self.snapshot(database)

            // Start over and run without interruption, in one batch.
            try await database.owner.query("TRUNCATE read.exchange_timings, read.exchange_daily, read.exchange_failures")
            try await database.owner.query("DELETE FROM checkpoints WHERE name = 'exchange_statistics'")
            try await Self.catchUp(ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger))
            let uninterrupted = try await Self.snapshot(database)
            #expect(!uninterrupted.isEmpty)
            #expect(interrupted == uninterrupted)
            let failed = try await database.app.query("SELECT sum(failed)::bigint FROM read.exchange_daily").decode(Int64.self).first { _ in true }
            #expect(failed == 3)
        }
    }

    /// A second application of any event fails on `applied_positions`' key. Locking runners (a
    /// transaction holding the projection's lock) and single-statement ones (compare-and-set on
    /// the checkpoint, no lock).
    @Test(arguments: [false, true]) func twoRunnersNeverBothApplyABatch(inOneStatement: Bool) async throws {
        try await TestDatabase.with { database in
            try await Self.makeHistory(database)
            try await database.owner.query("CREATE TABLE applied_positions (position bigint PRIMARY KEY)")
            try await database.owner.query("GRANT INSERT, SELECT ON applied_positions TO swapline_app")
            let runners = (0..<2).map { _ in
                ProjectionRunner(
                    projection: inOneStatement ? RecordingInOneStatement() : RecordingProjection(), client: database.app,
                    logger: database.logger, batchSize: 3)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for runner in runners {
                    group.addTask {
                        for _ in 0..<200 where try await runner.runOnce() == 0 {
                            let left = try await EventStore(client: database.app, logger: database.logger).readGlobal(after: .start, limit: 10_000)
                            let applied = try await database.app.query("SELECT count(*) FROM applied_positions").decode(Int64.self).first { _ in true }
                            if Int64(left.count) == applied { return }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let events = try await EventStore(client: database.app, logger: database.logger).readGlobal(after: .start, limit: 10_000)
            let applied = try await database.app.query("SELECT count(*) FROM applied_positions").decode(Int64.self).first { _ in true }
            #expect(applied == Int64(events.count))
        }
    }

    /// A transaction id open during a batch would hold every runner's visibility horizon at the
    /// batch's start until it ends; reading the batch must not take one (writing it does).
    @Test func aBatchReadsWithoutATransactionId() async throws {
        try await TestDatabase.with { database in
            try await Self.makeHistory(database)
            let probe = XidProbingProjection()
            let runner = ProjectionRunner(projection: probe, client: database.app, logger: database.logger, batchSize: 5)
            for _ in 0..<3 { #expect(try await runner.runOnce() == 5) }
            // Not even the first: its checkpoint row is written with the batch's end.
            #expect(probe.seen.assigned.withLock { $0 } == [false, false, false])
            let checkpoint = try await database.app.query("SELECT position FROM checkpoints WHERE name = 'xid_probe'")
                .decode(Int64.self).first { _ in true }
            #expect(checkpoint != nil && checkpoint != 0)
        }
    }

    @Test func theLagIsExportedAsAMetric() async throws {
        try await TestDatabase.with { database in
            try await Self.makeHistory(database)
            let registry = PrometheusCollectorRegistry()
            let runner = ProjectionRunner(
                projection: ExchangeStatistics(), client: database.app, logger: database.logger,
                metrics: PrometheusMetricsFactory(registry: registry))
            try await runner.recordLag()
            let behind = registry.emitToString()
            #expect(behind.contains(#"swapline_projection_lag_events{projection="exchange_statistics"}"#))
            #expect(!behind.contains(#"swapline_projection_lag_events{projection="exchange_statistics"} 0"#))
            // Other tests' open transactions on the shared cluster can hold back what a runner may
            // read (the xid8 rule), so one pass to zero is not yet caught up: poll until it is.
            let caughtUp = try await eventually("caught up") {
                try await Self.catchUp(runner)
                try await runner.recordLag()
                let text = registry.emitToString()
                return text.contains(#"swapline_projection_lag_events{projection="exchange_statistics"} 0"#) ? text : nil
            }
            #expect(caughtUp.contains(#"swapline_projection_lag_milliseconds{projection="exchange_statistics"} 0"#))
        }
    }
}
