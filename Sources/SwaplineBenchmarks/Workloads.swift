import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import Synchronization

/// The measured workloads, each beside its baseline run on the same server in the same run.
public struct Workloads: Sendable {
    public let client: PostgresClient
    public let pgbench: PgBench
    public let market: Market
    public let secrets: SecretBox
    public let logger: Logger
    /// Seconds per timed run.
    public let seconds: Int
    /// Runs per figure (the median is reported).
    public let runs: Int

    public init(client: PostgresClient, pgbench: PgBench, market: Market, secrets: SecretBox, logger: Logger, seconds: Int, runs: Int) {
        self.client = client
        self.pgbench = pgbench
        self.market = market
        self.secrets = secrets
        self.logger = logger
        self.seconds = seconds
        self.runs = runs
    }

    // MARK: - Event-store append

    /// The statement `EventStore.append` sends for two new streams of one event each, so
    /// pgbench runs exactly the SQL the store runs (through the same hash-chain trigger).
    static let appendScript = """
        BEGIN;
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
        SELECT s, NULLIF(v, 0), e, t, sv, d::jsonb, m::jsonb, '\\x', '\\x'
        FROM unnest(ARRAY['bench-' || gen_random_uuid(), 'bench-' || gen_random_uuid()]::text[], ARRAY[1, 1]::bigint[],
                    ARRAY[gen_random_uuid(), gen_random_uuid()]::uuid[], ARRAY['BenchAppended', 'BenchAppended']::text[],
                    ARRAY[1, 1]::int[], ARRAY['{"n": 1}', '{"n": 1}']::text[], ARRAY['{}', '{}']::text[])
             WITH ORDINALITY AS input(s, v, e, t, sv, d, m, n)
        ORDER BY n
        RETURNING global_position, transaction_id::text, stream_id, stream_version, event_id, event_type, schema_version,
                  data::text, metadata::text, recorded_at, prev_hash, hash;
        COMMIT;

        """

    /// Appends of two new streams per transaction by `writers` concurrent writers, in
    /// transactions per second, against pgbench running the same statement.
    public func append(writers: Int) async throws -> BenchmarkResult {
        let store = EventStore(client: client, logger: logger)
        var values: [Double] = []
        var baselines: [Double] = []
        var last: Sample?
        for _ in 0..<runs {
            let sample = await LoadRun.closedLoop(concurrency: writers, duration: .seconds(seconds)) { _ in
                let event = NewEvent(eventType: "BenchAppended", data: #"{"n": 1}"#)
                try await store.append([
                    StreamAppend(streamId: "bench-\(UUID().uuidString.lowercased())", expectedVersion: .noStream, events: [event]),
                    StreamAppend(streamId: "bench-\(UUID().uuidString.lowercased())", expectedVersion: .noStream, events: [NewEvent(eventType: "BenchAppended", data: #"{"n": 1}"#)]),
                ])
            }
            try check(sample, "append")
            values.append(sample.rate)
            last = sample
            baselines.append(try pgbench.run(script: Self.appendScript, clients: writers, seconds: seconds))
        }
        return BenchmarkResult(
            name: "append, 2 streams per transaction, \(writers) writer\(writers == 1 ? "" : "s")", values: values, baselines: baselines,
            goalRatio: 0.8, goal: "≥ 0.8× pgbench", unit: "tx/s", p50: last?.percentile(0.5), p99: last?.percentile(0.99))
    }

    // MARK: - exchange/get over HTTP

    /// Signed `exchange/get` calls by `clients` connections (one account each), against the same
    /// client calling a Hummingbird route that answers a fixed body of the same size.
    public func exchangeGet(clients: Int) async throws -> BenchmarkResult {
        let accounts = AccountService(client: client, secrets: secrets, market: market, logger: logger)
        let exchanges = ExchangeService(client: client, market: market, logger: logger)
        var opened: [SignedClient.Merchant] = []
        for index in 0..<clients {
            let issued = try await accounts.create(name: "bench get \(index)")
            _ = try await accounts.deposit(account: issued.account, currency: Currency("USDT_TRX"), amountText: "100000")
            let exchange = try await exchanges.create(
                account: issued.account,
                request: CreateExchangeRequest(pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), amountText: "100"),
                metadata: EventMetadata(actor: "bench"))
            opened.append(SignedClient.Merchant(account: issued.account.rawValue, key: issued.key, secret: issued.secret, exchangeId: exchange.id))
        }
        let merchants = opened
        let router = buildRouter(APIDependencies(accounts: accounts, exchanges: exchanges))
        let sampleBody = try await Self.withServer(router: router) { port in
            let http = SignedClient(port: port, connections: 1)
            defer { http.shutdown() }
            return try await http.call("/api/v1/exchange/get", merchants[0], payload: #"{"id": \#(merchants[0].exchangeId)}"#)
        }
        let fixed = Router()
        fixed.post("/api/v1/exchange/get") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: sampleBody)))
        }
        var values: [Double] = []
        var baselines: [Double] = []
        var last: Sample?
        for _ in 0..<runs {
            for (isBaseline, candidate) in [(false, router), (true, fixed)] as [(Bool, Router<BasicRequestContext>)] {
                let sample = try await Self.withServer(router: candidate) { port in
                    let http = SignedClient(port: port, connections: clients)
                    defer { http.shutdown() }
                    return await LoadRun.closedLoop(concurrency: clients, duration: .seconds(seconds)) { index in
                        let merchant = merchants[index]
                        _ = try await http.call("/api/v1/exchange/get", merchant, payload: #"{"id": \#(merchant.exchangeId)}"#)
                    }
                }
                try check(sample, isBaseline ? "fixed body" : "exchange/get")
                if isBaseline { baselines.append(sample.rate) } else {
                    values.append(sample.rate)
                    last = sample
                }
            }
        }
        return BenchmarkResult(
            name: "exchange/get over HTTP, \(clients) clients", values: values, baselines: baselines, goalRatio: 0.5,
            goal: "≥ 0.5× Hummingbird fixed body", unit: "req/s", p50: last?.percentile(0.5), p99: last?.percentile(0.99))
    }

    func check(_ sample: Sample, _ what: String) throws {
        guard sample.operations > 0 else { throw PgBench.Failure(description: "\(what): no operation succeeded (\(sample.errors) errors)") }
        if sample.errors > 0 { logger.warning("benchmark operations failed", metadata: ["workload": "\(what)", "errors": "\(sample.errors)"]) }
    }

    /// Serves `router` on a free loopback port for the duration of `body`.
    static func withServer<T: Sendable>(router: Router<BasicRequestContext>, _ body: @Sendable (Int) async throws -> T) async throws -> T {
        let port = Mutex<Int?>(nil)
        // Stopping the server by cancellation logs an error that is no error here.
        var quiet = Logger(label: "swapline.bench.server")
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while port.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            guard let bound = port.withLock({ $0 }) else { throw PgBench.Failure(description: "the benchmark server did not start") }
            defer { group.cancelAll() }
            return try await body(bound)
        }
    }
}

/// A Calypso client: every request freshly signed with its account's secret, as real clients do.
struct SignedClient: Sendable {
    struct Merchant: Sendable {
        var account: String
        var key: String
        var secret: String
        var exchangeId: Int64
    }

    let port: Int
    let http: HTTPClient
    static let clock = Atomic<Int64>(0)

    /// One keep-alive connection per load loop, as the issue asks (one account per connection).
    init(port: Int, connections: Int) {
        self.port = port
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func shutdown() { http.shutdown { _ in } }

    /// A timestamp that never repeats, so two identical calls are never a replay.
    static func timestamp() -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        while true {
            let last = clock.load(ordering: .relaxed)
            let next = max(now, last + 1)
            if clock.compareExchange(expected: last, desired: next, ordering: .relaxed).exchanged { return next }
        }
    }

    func call(_ path: String, _ merchant: Merchant, payload: String) async throws -> String {
        let body = #"{"account":"\#(merchant.account)","timestamp":\#(Self.timestamp()),"payload":\#(payload)}"#
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Key", value: merchant.key)
        request.headers.add(name: "Sign", value: CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret))
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw PgBench.Failure(description: "\(path) answered \(response.status.code): \(String(buffer: bytes))")
        }
        return String(buffer: bytes)
    }
}
