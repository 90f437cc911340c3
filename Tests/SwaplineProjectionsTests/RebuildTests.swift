import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections
import SwaplineTestSupport
import Synchronization
import Testing

@Suite("Projection rebuild against PostgreSQL")
struct RebuildTests {
    final class Flag: Sendable {
        let isSet = Atomic<Bool>(true)
    }

    /// Every read.exchanges row against its stream replayed, and the row count against the streams.
    static func exchangesMatchTheirStreams(_ database: TestDatabase) async throws {
        let store = EventStore(client: database.app, logger: database.logger)
        let queries = ExchangeQueries(client: database.app, logger: database.logger)
        let streams = try await database.app.query("SELECT stream_id FROM stream_heads WHERE stream_id LIKE 'exchange-%'")
            .decode(String.self).collect()
        let rows = try await database.app.query("SELECT count(*) FROM read.exchanges").decode(Int64.self).first { _ in true }
        #expect(rows == Int64(streams.count))
        for stream in streams {
            let events = try await store.readStream(stream).map(Streams.exchangeEvent)
            let state = try #require(Exchange.replay(events))
            var view = try await queries.get(account: state.request.account, id: state.id)
            var replayed = ExchangeView(state)
            // timestamptz keeps microseconds and events milliseconds: compare at the API's precision.
            for date in [\ExchangeView.createdAt, \ExchangeView.updatedAt] {
                view[keyPath: date] = Timestamp.parse(Timestamp.format(view[keyPath: date]))!
                replayed[keyPath: date] = Timestamp.parse(Timestamp.format(replayed[keyPath: date]))!
            }
            #expect(view == replayed, "\(stream)")
        }
    }

    static func balancesMatchTheirStreams(_ database: TestDatabase) async throws {
        let store = EventStore(client: database.app, logger: database.logger)
        let streams = try await database.app.query("SELECT stream_id FROM stream_heads WHERE stream_id LIKE 'account-%'")
            .decode(String.self).collect()
        for stream in streams {
            let state = try #require(Account.replay(try await store.readStream(stream).map(Streams.accountEvent)))
            let rows = try await database.app.query(
                "SELECT currency, available::text, held::text FROM read.balances WHERE account_id = \(state.account.rawValue)")
            var seen = 0
            for try await (currency, available, held) in rows.decode((String, String, String).self) {
                seen += 1
                #expect(try Amount.parseSignedDecimal(available) == state.availableBalance(Currency(currency)), "\(stream) \(currency)")
                #expect(try Amount.parseSignedDecimal(held) == state.heldBalance(Currency(currency)), "\(stream) \(currency)")
            }
            #expect(seen == state.currencies.count, "\(stream)")
        }
    }

    /// Every column of both inline read models, times rounded to the events' milliseconds.
    static func inlineRows(_ database: TestDatabase) async throws -> [String] {
        let rows = try await database.owner.query(
            """
            SELECT 'exchanges ' || row_to_json(e)::text FROM (
                SELECT id, account_id, source_currency, destination_currency, direction, source_amount, destination_amount, rate, fee,
                    state, status, failure_reason, failure_detail, quote_id, execution_rate, client_order_id,
                    date_trunc('milliseconds', created_at + interval '500 microseconds') AS created_at,
                    date_trunc('milliseconds', quoted_at + interval '500 microseconds') AS quoted_at,
                    date_trunc('milliseconds', submitted_at + interval '500 microseconds') AS submitted_at,
                    date_trunc('milliseconds', completed_at + interval '500 microseconds') AS completed_at,
                    date_trunc('milliseconds', failed_at + interval '500 microseconds') AS failed_at,
                    date_trunc('milliseconds', updated_at + interval '500 microseconds') AS updated_at, stream_version
                FROM read.exchanges ORDER BY id) AS e
            UNION ALL
            SELECT 'balances ' || row_to_json(b)::text FROM (
                SELECT account_id, currency, available, held, updated_at FROM read.balances ORDER BY account_id, currency) AS b
            """)
        var lines: [String] = []
        for try await line in rows.decode(String.self) { lines.append(line) }
        return lines
    }

    /// A merchant with funds to create exchanges of `pair` while a rebuild runs.
    static func busyMerchant(_ database: TestDatabase) async throws -> (ExchangeService, IssuedCredentials, CurrencyPair) {
        let accounts = AccountService(client: database.app, secrets: ProjectionRunnerTests.secrets, market: .defaults, logger: database.logger)
        let merchant = try await accounts.create(name: "Busy")
        _ = try await accounts.deposit(account: merchant.account, currency: "USDT_TRX", amountText: "100000")
        let exchanges = ExchangeService(client: database.app, market: .defaults, logger: database.logger)
        return (exchanges, merchant, CurrencyPair(Currency("USDT_TRX"), Currency("ETH")))
    }

    @Test func aRebuildWhileCreatesGoOnEndsEqualToAFreshReplay() async throws {
        try await TestDatabase.with { database in
            try await ProjectionRunnerTests.makeHistory(database)
            let (exchanges, merchant, pair) = try await Self.busyMerchant(database)
            let rebuilder = ProjectionRebuilder(client: database.owner, logger: database.logger, batchSize: 5)

            async let creates: Int = {
                var count = 0
                for _ in 0..<30 {
                    _ = try await exchanges.create(
                        account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "20"), metadata: EventMetadata(actor: "test"))
                    count += 1
                }
                return count
            }()
            for projection in ReadModels.rebuildable {
                try await rebuilder.rebuild(projection)
            }
            #expect(try await creates == 30)

            try await Self.exchangesMatchTheirStreams(database)
            try await Self.balancesMatchTheirStreams(database)
            // The rebuilt tables kept their rights: the runtime role still writes and the analysts read.
            _ = try await exchanges.create(
                account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "20"), metadata: EventMetadata(actor: "test"))
            try await Self.exchangesMatchTheirStreams(database)
        }
    }

    /// The statistics runner writes without a transaction or lock (one statement, conditional on
    /// its checkpoint) while the swap replaces its tables and checkpoint: neither fails (no
    /// deadlock), and what the runner wrote before, during and after the swaps adds up to a
    /// fresh replay.
    @Test func aStatisticsRebuildWhileItsRunnerRunsEndsEqualToAFreshReplay() async throws {
        try await TestDatabase.with { database in
            try await ProjectionRunnerTests.makeHistory(database)
            let (exchanges, merchant, pair) = try await Self.busyMerchant(database)
            let rebuilder = ProjectionRebuilder(client: database.owner, logger: database.logger, batchSize: 5)
            let runner = ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger, batchSize: 2)
            let creating = Flag()

            async let applied: Int = {
                var applied = 0
                while creating.isSet.load(ordering: .relaxed) { applied += try await runner.runOnce() }
                return applied
            }()
            async let creates: Int = {
                defer { creating.isSet.store(false, ordering: .relaxed) }
                for _ in 0..<40 {
                    _ = try await exchanges.create(
                        account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "20"), metadata: EventMetadata(actor: "test"))
                }
                return 40
            }()
            for _ in 0..<3 { try await rebuilder.rebuild(ExchangeStatistics()) }
            #expect(try await creates == 40)
            #expect(try await applied > 0)
            try await ProjectionRunnerTests.catchUp(runner)
            let rebuiltWhileRunning = try await ProjectionRunnerTests.snapshot(database)

            try await database.owner.query("TRUNCATE read.exchange_timings, read.exchange_daily, read.exchange_failures")
            try await database.owner.query("DELETE FROM checkpoints WHERE name = 'exchange_statistics'")
            try await ProjectionRunnerTests.catchUp(runner)
            let freshReplay = try await ProjectionRunnerTests.snapshot(database)
            #expect(freshReplay.filter { $0.hasPrefix("read.exchange_daily") }.count >= 4)
            #expect(rebuiltWhileRunning == freshReplay)
        }
    }

    /// With the default batch every exchange's events fold in one statement; the copies lose
    /// their secondary indexes while they fill and must get them all back.
    @Test func aRebuildInOneBatchMatchesTheStreamsAndKeepsEveryIndex() async throws {
        try await TestDatabase.with { database in
            try await ProjectionRunnerTests.makeHistory(database)
            let indexes: PostgresQuery = "SELECT indexdef FROM pg_indexes WHERE schemaname = 'read' ORDER BY indexname"
            let before = try await database.owner.query(indexes).decode(String.self).collect()
            // The runner's figures, from batches of its size, against the rebuild's from one batch.
            try await ProjectionRunnerTests.catchUp(ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger))
            let statistics = try await ProjectionRunnerTests.snapshot(database)
            #expect(!statistics.isEmpty)
            // Appends write the inline models a statement per event, the rebuild set-based: the same rows.
            let live = try await Self.inlineRows(database)
            let rebuilder = ProjectionRebuilder(client: database.owner, logger: database.logger)
            for projection in ReadModels.rebuildable {
                try await rebuilder.rebuild(projection)
            }
            try await Self.exchangesMatchTheirStreams(database)
            try await Self.balancesMatchTheirStreams(database)
            #expect(try await Self.inlineRows(database) == live)
            #expect(live.count > 10)
            #expect(try await ProjectionRunnerTests.snapshot(database) == statistics)
            #expect(try await database.owner.query(indexes).decode(String.self).collect() == before)
            #expect(before.contains { $0.contains("exchanges_account_id") })
        }
    }

    /// A newer event this build cannot read stops the projection with its name, never skipped.
    @Test func anEventOfAnUnknownSchemaVersionStopsTheRebuild() async throws {
        try await TestDatabase.with { database in
            try await ProjectionRunnerTests.makeHistory(database)
            let stream = try #require(
                try await database.app.query("SELECT stream_id FROM stream_heads WHERE stream_id LIKE 'exchange-%' LIMIT 1")
                    .decode(String.self).first { _ in true })
            // Written without the inline read models, as a newer build's append would be.
            try await EventStore(client: database.app, logger: database.logger).append([
                StreamAppend(
                    streamId: stream, expectedVersion: .any,
                    events: [NewEvent(eventType: "ExchangeQuoted", schemaVersion: 2, data: #"{"rate": {"value": "1"}}"#)])
            ])
            let rebuilder = ProjectionRebuilder(client: database.owner, logger: database.logger)
            let error = await #expect(throws: (any Error).self) { try await rebuilder.rebuild(ExchangesReadModel()) }
            #expect(String(reflecting: error).contains("schema version 2"))
            // The live table kept serving; the copy was not swapped in.
            let rows = try await database.app.query("SELECT count(*) FROM read.exchanges").decode(Int64.self).first { _ in true }
            #expect(rows == 9)
        }
    }

    @Test func statusShowsTheRunnerLag() async throws {
        try await TestDatabase.with { database in
            try await ProjectionRunnerTests.makeHistory(database)
            let rebuilder = ProjectionRebuilder(client: database.owner, logger: database.logger)
            let before = try await rebuilder.status().first { $0.name == "exchange_statistics" }
            #expect((before?.eventsBehind ?? 0) > 0)
            // catchUp polls until no event is left after the checkpoint (other tests' open
            // transactions on the shared cluster can hold a runner back a moment).
            try await ProjectionRunnerTests.catchUp(ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger))
            let after = try await rebuilder.status().first { $0.name == "exchange_statistics" }
            #expect(after?.eventsBehind == 0)
        }
    }
}

extension AsyncSequence where Self: Sendable {
    func collect() async throws -> [Element] {
        var elements: [Element] = []
        for try await element in self { elements.append(element) }
        return elements
    }
}
