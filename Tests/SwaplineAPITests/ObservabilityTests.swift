import Foundation
import Logging
import PostgresNIO
import Prometheus
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineNotifier
import SwaplineProjections
import SwaplineTestSupport
import Synchronization
import Testing

/// Collects the lines a `JSONLogOutput` writes.
final class CollectedLines: Sendable {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
    }
    private let box: Lines
    let output: JSONLogOutput
    var all: [String] { box.lines.withLock { $0 } }

    init() {
        let box = Lines()
        self.box = box
        self.output = JSONLogOutput { line in box.lines.withLock { $0.append(line) } }
    }
}

@Suite("Structured logs")
struct JSONLogTests {
    func parse(_ line: String) throws -> [String: Any] {
        #expect(line.hasSuffix("\n"))
        #expect(!line.dropLast().contains("\n"), "one record, one line")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func writesOneJSONObjectPerLineWithMetadata() throws {
        let collected = CollectedLines()
        let output = collected.output
        var logger = Logger(label: "swapline.test") { label in JSONLogHandler(label: label, output: output) }
        logger.logLevel = .debug
        logger[metadataKey: "hb.request.id"] = "abc123"
        logger.debug("said \"hi\"\n\ttab \u{01} ünïcode ✓", metadata: ["exchange_id": "42", "level": "shadowed", "nested": ["a": "1", "b": ["c": "2"]]])
        logger.trace("below the level")
        logger.error("plain")

        let lines = collected.all
        #expect(lines.count == 2)
        let first = try parse(lines[0])
        #expect(first["level"] as? String == "debug")
        #expect(first["label"] as? String == "swapline.test")
        #expect(first["message"] as? String == "said \"hi\"\n\ttab \u{01} ünïcode ✓")
        #expect(first["hb.request.id"] as? String == "abc123")
        #expect(first["exchange_id"] as? String == "42")
        #expect(first["metadata.level"] as? String == "shadowed")
        #expect(first["nested.a"] as? String == "1")
        #expect(first["nested.b.c"] as? String == "2")
        let time = try #require(first["time"] as? String)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "ISO 8601 UTC with milliseconds: \(time)")
        let second = try parse(lines[1])
        #expect(second["level"] as? String == "error")
        #expect(second["message"] as? String == "plain")
        #expect(second["hb.request.id"] as? String == "abc123")
    }

    @Test func concurrentLinesNeverInterleave() async throws {
        let collected = CollectedLines()
        let output = collected.output
        let logger = Logger(label: "swapline.test") { label in JSONLogHandler(label: label, output: output) }
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for n in 0..<50 { logger.info("line", metadata: ["task": "\(task)", "n": "\(n)"]) }
                }
            }
        }
        let lines = collected.all
        #expect(lines.count == 400)
        for line in lines { _ = try parse(line) }
    }

    @Test func formatFollowsTheTerminalUnlessOverridden() {
        #expect(LogFormat.resolve(environment: [:], standardErrorIsTerminal: false) == .json)
        #expect(LogFormat.resolve(environment: [:], standardErrorIsTerminal: true) == .text)
        #expect(LogFormat.resolve(environment: ["SWAPLINE_LOG_FORMAT": "json"], standardErrorIsTerminal: true) == .json)
        #expect(LogFormat.resolve(environment: ["SWAPLINE_LOG_FORMAT": "TEXT"], standardErrorIsTerminal: false) == .text)
        #expect(LogFormat.resolve(environment: ["SWAPLINE_LOG_FORMAT": "xml"], standardErrorIsTerminal: false) == .json)
    }
}

@Suite("Observability metrics against PostgreSQL")
struct ObservabilityMetricsTests {
    @Test func exchangeCountersAndExecutionTimer() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let registry = PrometheusCollectorRegistry()
            let metrics = PrometheusMetricsFactory(registry: registry)
            let exchanges = ExchangeService(client: api.database.app, market: api.market, logger: api.database.logger, metrics: metrics)
            let pair = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
            func create() async throws -> ExchangeState {
                try await exchanges.create(
                    account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "100"), metadata: EventMetadata(actor: "test"))
            }
            func worker(failureRate: Decimal) -> ExecutionWorker {
                ExecutionWorker(
                    client: api.database.app,
                    venue: SimulatedVenue(client: api.database.app, failureRate: failureRate, logger: api.database.logger),
                    market: api.market, logger: api.database.logger, metrics: metrics)
            }
            func finish(_ id: ExchangeID, _ worker: ExecutionWorker) async throws -> ExchangeStatus {
                try await eventually("exchange \(id) finished") {
                    try await worker.runOnce()
                    let state = try await exchanges.aggregates.loadExchange(id).state
                    return state.map(\.status).flatMap { $0.isTerminal ? $0 : nil }
                }
            }

            let completed = try await create()
            #expect(try await finish(completed.id, worker(failureRate: 0)) == .completed)
            let failed = try await create()
            #expect(try await finish(failed.id, worker(failureRate: 1)) == .failed)

            let text = registry.emitToString()
            #expect(text.contains(#"swapline_exchanges_total{state="created"} 2"#), "\(text)")
            #expect(text.contains(#"swapline_exchanges_total{state="completed"} 1"#))
            #expect(text.contains(#"swapline_exchanges_total{state="failed"} 1"#))
            #expect(text.contains(#"swapline_execution_seconds_count{state="completed"} 1"#))
            #expect(text.contains(#"swapline_execution_seconds_count{state="failed"} 1"#))
            #expect(text.contains(#"swapline_execution_seconds_bucket{state="completed",le="+Inf"} 1"#))
        }
    }

    @Test func queueDepthCountsPendingDeliveriesDueNow() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let subscribed = try await api.call(
                "/api/v1/subscription/webhook/create", merchant,
                payload: #"{"requestId": "\#(UUID().uuidString.lowercased())", "notificationEventTypes": ["EXCHANGE_CREATED"], "url": "https://hooks.merchant.test/"}"#
            )
            #expect(subscribed.status == 200)
            let dispatcher = ProjectionRunner(projection: WebhookDispatcher(market: api.market), client: api.database.app, logger: api.database.logger)
            for _ in 0..<2 {
                _ = try await api.exchanges.create(
                    account: merchant.account, request: CreateExchangeRequest(pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), amountText: "100"),
                    metadata: EventMetadata(actor: "test"))
            }
            _ = try await eventually("both deliveries queued") {
                try await dispatcher.runOnce()
                let rows = try await api.database.owner.query("SELECT count(*) FROM webhook_deliveries")
                for try await n in rows.decode(Int64.self) where n == 2 { return true }
                return nil
            }

            let registry = PrometheusCollectorRegistry()
            let sender = WebhookSender(
                ssrfGuard: SSRFGuard(allowedNetworks: [], resolver: APIHarness.webhookHosts), connectTimeoutSeconds: 1, timeoutSeconds: 1,
                logger: api.database.logger)
            let worker = DeliveryWorker(
                store: DeliveryStore(client: api.database.app, secrets: APIHarness.masterKey, logger: api.database.logger), sender: sender,
                logger: api.database.logger, metrics: PrometheusMetricsFactory(registry: registry))
            let outcome: Result<Void, any Error>
            do {
                #expect(try await worker.recordQueueDepth() == 2)
                #expect(registry.emitToString().contains("swapline_webhook_queue_depth 2"), "\(registry.emitToString())")

                // A delivery waiting for its retry is pending but not due.
                try await api.database.owner.query(
                    "UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE delivery_id = (SELECT min(delivery_id) FROM webhook_deliveries)")
                #expect(try await worker.recordQueueDepth() == 1)
                #expect(registry.emitToString().contains("swapline_webhook_queue_depth 1"))
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await sender.shutdown()
            try outcome.get()
        }
    }
}

@Suite("Database pool metrics")
struct DatabasePoolMetricsTests {
    @Test func countsOpenConnectionsAndFailedConnects() async throws {
        try await TestDatabase.with { database in
            let registry = PrometheusCollectorRegistry()
            let metrics = DatabasePoolMetrics(maximumConnections: 3, factory: PrometheusMetricsFactory(registry: registry))
            let client = PostgresClient(
                configuration: database.url.clientConfiguration(maximumConnections: 3),
                backgroundLogger: metrics.backgroundLogger(passingOn: database.logger))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await client.withConnection { connection in
                    _ = try await connection.query("SELECT 1", logger: database.logger)
                    #expect(metrics.openConnections == 1)
                    let text = registry.emitToString()
                    #expect(text.contains("swapline_database_pool_connections 1"), "\(text)")
                    #expect(text.contains("swapline_database_pool_size 3"))
                }
            }

            // A server that refuses: every failed connect is counted.
            let refused = PostgresClient.Configuration(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: "none", tls: .disable)
            let failing = DatabasePoolMetrics(maximumConnections: 1, factory: PrometheusMetricsFactory(registry: registry))
            let unreachable = PostgresClient(configuration: refused, backgroundLogger: failing.backgroundLogger(passingOn: database.logger))
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await unreachable.run() }
                group.addTask { _ = try? await unreachable.query("SELECT 1", logger: database.logger) }
                _ = try? await eventually("a failed connect counted") {
                    registry.emitToString().contains("swapline_database_pool_connect_failures_total 0") ? nil : true
                }
                group.cancelAll()
            }
            #expect(registry.emitToString().contains("swapline_database_pool_connect_failures_total"))
            #expect(!registry.emitToString().contains("swapline_database_pool_connect_failures_total 0\n"))
        }
    }
}
