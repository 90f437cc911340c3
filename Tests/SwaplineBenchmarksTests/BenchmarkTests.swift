import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections
import SwaplineTestSupport
import Testing

@testable import SwaplineBenchmarks

@Suite("Bench report")
struct BenchmarkReportTests {
    @Test func aRatioGoalIsMetAtOrAboveIt() {
        let result = BenchmarkResult(name: "r", values: [6, 5, 7], baselines: [10], goalRatio: 0.6, goal: "≥ 0.6×", unit: "req/s")
        #expect(result.value == 6)
        #expect(result.met == true)
        #expect(!result.lowerIsBetter)
    }

    @Test func aLowerIsBetterRatioIsMetBelowItAndSaysSo() {
        let fast = BenchmarkResult(name: "load", values: [1.5], baselines: [1], goalRatio: nil, goal: "< 2× a new account", unit: "ms", maximumRatio: 2)
        let slow = BenchmarkResult(name: "load", values: [2.5], baselines: [1], goalRatio: nil, goal: "< 2× a new account", unit: "ms", maximumRatio: 2)
        #expect(fast.met == true)
        #expect(slow.met == false)
        #expect(fast.lowerIsBetter)
        #expect(BenchmarkReport(quick: true, results: [fast]).table().contains("< 2× a new account (lower is better)"))
    }

    @Test func absoluteBoundsJoinTheRatio() {
        let rebuild = BenchmarkResult(
            name: "rebuild", values: [150_000], baselines: [300_000], goalRatio: 0.3, goal: "≥ 200,000 events/s and ≥ 0.3×", unit: "events/s",
            minimumValue: 200_000)
        #expect(rebuild.ratio == 0.5)
        #expect(rebuild.met == false)
        let memory = BenchmarkResult(name: "rss", values: [120], baselines: nil, goalRatio: nil, goal: "< 300 MiB", unit: "MiB", maximumValue: 300)
        #expect(memory.met == true)
        #expect(memory.lowerIsBetter)
        let informational = BenchmarkResult(name: "cold", values: [900], baselines: [2], goalRatio: nil, goal: "none", unit: "ms", lowerIsBetter: true)
        #expect(informational.met == nil)
        #expect(informational.lowerIsBetter)
    }

    @Test func theBaselinesLatenciesStandBesideTheWorkloads() {
        let create = BenchmarkResult(
            name: "create", values: [900], baselines: [1000], goalRatio: 0.6, goal: "≥ 0.6×, p99 < 50 ms", unit: "req/s", p50: 30, p99: 49,
            baselineLatencies: (1...100).map(Double.init), p99Bound: 50)
        #expect(create.baselineP50 == 50)
        #expect(create.baselineP99 == 99)
        // The bound is the workload's own p99's: the baseline's is shown, not judged.
        #expect(create.met == true)
        let table = BenchmarkReport(quick: true, results: [create]).table()
        #expect(table.contains("| 30.00 | 49.00 | 50.00 / 99.00 |"))
        let noBaseline = BenchmarkResult(name: "lag", values: [10], baselines: nil, goalRatio: nil, goal: "p99 < 50 ms", unit: "ms", p99: 40, p99Bound: 50)
        #expect(BenchmarkReport(quick: true, results: [noBaseline]).table().contains("| 40.00 | — |"))
    }

    @Test func pgbenchsPerTransactionLogsAreReadFromEveryThreadsFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-pgbench-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // client transaction latency_us script epoch_s epoch_us
        try "0 0 2500 0 1764600000 120\n1 0 1200 0 1764600000 130\n".write(
            to: directory.appendingPathComponent("log.4242"), atomically: true, encoding: .utf8)
        try "2 0 31000 0 1764600000 140\n".write(to: directory.appendingPathComponent("log.4242.1"), atomically: true, encoding: .utf8)
        try "not a log\n".write(to: directory.appendingPathComponent("script.sql"), atomically: true, encoding: .utf8)
        #expect(try PgBench.latencies(in: directory) == [1.2, 2.5, 31])
    }

    @Test func numbersAreGroupedTheSameEverywhere() {
        #expect(grouped(1_000_000) == "1,000,000")
        #expect(grouped(20_000) == "20,000")
        #expect(grouped(999) == "999")
    }
}

@Suite("Bench histories")
struct HistorySeederTests {
    @Test func aSeededAccountLoadsAtItsFullVersionAndRebuildsItsBalance() async throws {
        try await TestDatabase.with { database in
            let secrets = try SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
            let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
            let account = try await accounts.create(name: "seeded").account
            _ = try await accounts.deposit(account: account, currency: Currency("USDT_TRX"), amountText: "100000")
            let seeder = HistorySeeder(client: database.app, logger: database.logger, eventsPerBatch: 30)
            let templates = try HistorySeeder.templates(market: .defaults, account: account).account
            try await seeder.seed(templates, ids: 1...50, into: .stream(Streams.account(account), firstVersion: 3))
            // A second pass finds every batch written and adds nothing.
            try await seeder.seed(templates, ids: 1...50, into: .stream(Streams.account(account), firstVersion: 3))
            let loaded = try await AggregateLoader(store: EventStore(client: database.app, logger: database.logger)).loadAccount(account)
            #expect(loaded.version == 102)
            #expect(loaded.state?.holds.isEmpty == true)
            // Compared as text: Foundation's Decimal == can tell apart 99500 spelled with different exponents.
            #expect(loaded.state?.availableBalance(Currency("USDT_TRX")).plainText == "99500")
        }
    }

    @Test func seededExchangesRebuildIntoTheReadModelAsCompleted() async throws {
        try await TestDatabase.with { database in
            let seeder = HistorySeeder(client: database.app, logger: database.logger, eventsPerBatch: 12)
            let templates = try HistorySeeder.templates(market: .defaults, account: Workloads.rebuildAccount).exchange
            #expect(templates.map(\.eventType) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted"])
            try await seeder.seed(templates, ids: 7_000...7_009, into: .exchangeStreams)
            try await ProjectionRebuilder(client: database.owner, logger: database.logger).rebuild(ExchangesReadModel())
            let rows = try await database.app.query(
                "SELECT count(*) FROM read.exchanges WHERE state = 'COMPLETED' AND client_order_id = 'swapline-' || id", logger: database.logger)
            var completed: Int64 = 0
            for try await count in rows.decode(Int64.self) { completed = count }
            #expect(completed == 10)
        }
    }
}
