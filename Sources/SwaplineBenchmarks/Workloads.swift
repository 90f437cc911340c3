import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineNotifier
import SwaplineProjections
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
    /// Works as the schema's owner (the login user): what `swapline projections rebuild` uses.
    public let owner: PostgresClient
    /// The `swapline` executable, started as `swapline serve` by the workloads that measure a
    /// server process on its own.
    public let executable: String
    /// Meters each workload's last run and its baseline's.
    public let cpu: CPUMeter

    public init(
        client: PostgresClient, owner: PostgresClient, pgbench: PgBench, market: Market, secrets: SecretBox, logger: Logger, seconds: Int,
        runs: Int, executable: String, cpu: CPUMeter = CPUMeter(postmaster: nil)
    ) {
        self.cpu = cpu
        self.client = client
        self.owner = owner
        self.pgbench = pgbench
        self.market = market
        self.secrets = secrets
        self.logger = logger
        self.seconds = seconds
        self.runs = runs
        self.executable = executable
    }

    // MARK: - Event-store append

    /// The statements `EventStore.append` sends for two new streams of one event each, so
    /// pgbench runs exactly the SQL the store runs (through the same hash-chain trigger), and
    /// the announcement after the commit (which the store shares between concurrent appends).
    /// A store without inline read models sends the INSERT alone, atomic by itself, so the
    /// script has no BEGIN and COMMIT either; pgbench commits each of its appends on its own,
    /// where the store commits concurrent appends together.
    static let appendScript = """
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
        SELECT s, NULLIF(v, 0), e, t, sv, d::jsonb, m::jsonb, '\\x', '\\x'
        FROM unnest(ARRAY['bench-' || gen_random_uuid(), 'bench-' || gen_random_uuid()]::text[], ARRAY[1, 1]::bigint[],
                    ARRAY[gen_random_uuid(), gen_random_uuid()]::uuid[], ARRAY['BenchAppended', 'BenchAppended']::text[],
                    ARRAY[1, 1]::int[], ARRAY['{"n": 1}', '{"n": 1}']::text[], ARRAY['{}', '{}']::text[])
             WITH ORDINALITY AS input(s, v, e, t, sv, d, m, n)
        ORDER BY n
        RETURNING global_position, transaction_id::text, stream_id, stream_version, event_id, event_type, schema_version,
                  data::text, metadata::text, recorded_at, prev_hash, hash;
        SELECT pg_notify(channel, '') FROM unnest(ARRAY['swapline_events']) AS channel;

        """

    /// Appends of two new streams per transaction by `writers` concurrent writers, in
    /// transactions per second, against pgbench running the same statement.
    public func append(writers: Int) async throws -> BenchmarkResult {
        let store = EventStore(client: client, logger: logger, groupCommit: true)
        var values: [Double] = []
        var baselines: [PgBench.Outcome] = []
        var last: Sample?
        var meters: (CPUPerOperation?, CPUPerOperation?)
        for _ in 0..<runs {
            let sample: Sample
            (sample, meters.0) = await cpu.measure({
                await LoadRun.closedLoop(concurrency: writers, duration: .seconds(seconds)) { _ in
                    let event = NewEvent(eventType: "BenchAppended", data: #"{"n": 1}"#)
                    try await store.append([
                        StreamAppend(streamId: "bench-\(UUID().uuidString.lowercased())", expectedVersion: .noStream, events: [event]),
                        StreamAppend(streamId: "bench-\(UUID().uuidString.lowercased())", expectedVersion: .noStream, events: [NewEvent(eventType: "BenchAppended", data: #"{"n": 1}"#)]),
                    ])
                }
            }, operations: { Double($0.operations) })
            try check(sample, "append")
            values.append(sample.rate)
            last = sample
            let baseline: PgBench.Outcome
            (baseline, meters.1) = try await meteredPgbench(script: Self.appendScript, clients: writers)
            baselines.append(baseline)
        }
        var result = BenchmarkResult(
            name: "append, 2 streams per transaction, \(writers) writer\(writers == 1 ? "" : "s")",
            values: values, baselines: baselines.map(\.transactionsPerSecond), goalRatio: 0.8, goal: "≥ 0.8× pgbench", unit: "tx/s",
            p50: last?.percentile(0.5), p99: last?.percentile(0.99), baselineLatencies: baselines.last?.latencies)
        (result.cpu, result.baselineCPU) = meters
        return result
    }

    /// A pgbench run of `script`, with the CPU each transaction took.
    func meteredPgbench(script: String, clients: Int) async throws -> (PgBench.Outcome, CPUPerOperation?) {
        try await cpu.measure(
            settling: true, { try pgbench.run(script: script, clients: clients, seconds: seconds) },
            operations: { $0.transactionsPerSecond * Double(seconds) })
    }

    // MARK: - exchange/get over HTTP

    /// Signed `exchange/get` calls by `clients` connections (one account each), against the same
    /// client calling a Hummingbird route that answers a fixed body of the same size.
    public func exchangeGet(clients: Int) async throws -> BenchmarkResult {
        let accounts = servingAccounts()
        let exchanges = ExchangeService(client: client, market: market, logger: logger)
        var opened: [SignedClient.Merchant] = []
        for var merchant in try await openMerchants(clients, name: "bench get", deposit: "100000") {
            merchant.exchangeId = try await exchanges.create(
                account: merchant.account,
                request: CreateExchangeRequest(pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), amountText: "100"),
                metadata: EventMetadata(actor: "bench")
            ).id
            opened.append(merchant)
        }
        let merchants = opened
        let router = buildRouter(APIDependencies(accounts: accounts, exchanges: exchanges))
        let sampleBody = try await LoopbackServer.with(router: router, label: "swapline.bench.server") { port in
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
        var last: (sample: Sample?, baseline: Sample?)
        var meters: (CPUPerOperation?, CPUPerOperation?)
        for _ in 0..<runs {
            for (isBaseline, candidate) in [(false, router), (true, fixed)] as [(Bool, Router<BasicRequestContext>)] {
                let (sample, meter) = try await LoopbackServer.with(router: candidate, label: "swapline.bench.server") { port in
                    let http = SignedClient(port: port, connections: clients)
                    defer { http.shutdown() }
                    return await cpu.measure({
                        await LoadRun.closedLoop(concurrency: clients, duration: .seconds(seconds)) { index in
                            let merchant = merchants[index]
                            _ = try await http.call("/api/v1/exchange/get", merchant, payload: #"{"id": \#(merchant.exchangeId)}"#)
                        }
                    }, operations: { Double($0.operations) })
                }
                if isBaseline { meters.1 = meter } else { meters.0 = meter }
                try check(sample, isBaseline ? "fixed body" : "exchange/get")
                if isBaseline {
                    baselines.append(sample.rate)
                    last.baseline = sample
                } else {
                    values.append(sample.rate)
                    last.sample = sample
                }
            }
        }
        var result = BenchmarkResult(
            name: "exchange/get over HTTP, \(clients) clients", values: values, baselines: baselines, goalRatio: 0.5,
            goal: "≥ 0.5× Hummingbird fixed body", unit: "req/s", p50: last.sample?.percentile(0.5), p99: last.sample?.percentile(0.99),
            baselineLatencies: last.baseline?.latencies)
        (result.cpu, result.baselineCPU) = meters
        return result
    }

    /// Accounts as an API node of `swapline serve` has them: keys kept for the default 5 s
    /// (`SWAPLINE_KEY_CACHE_SECONDS`; `SWAPLINE_BENCH_KEY_CACHE_SECONDS=0` measures without).
    func servingAccounts() -> AccountService {
        let seconds = ProcessInfo.processInfo.environment["SWAPLINE_BENCH_KEY_CACHE_SECONDS"].flatMap(Int.init) ?? 5
        return AccountService(
            client: client, secrets: secrets, market: market, logger: logger,
            keyCache: seconds > 0 ? APIKeyCache(timeToLive: .seconds(seconds)) : nil)
    }

    /// `count` new accounts with `deposit` USDT_TRX each and their API keys: one per client
    /// connection, so no single account stream is the bottleneck.
    func openMerchants(_ count: Int, name: String, deposit: String) async throws -> [SignedClient.Merchant] {
        let accounts = AccountService(client: client, secrets: secrets, market: market, logger: logger)
        var merchants: [SignedClient.Merchant] = []
        for index in 0..<count {
            let issued = try await accounts.create(name: "\(name) \(index)")
            _ = try await accounts.deposit(account: issued.account, currency: Currency("USDT_TRX"), amountText: deposit)
            merchants.append(SignedClient.Merchant(account: issued.account, key: issued.key, secret: issued.secret, exchangeId: 0))
        }
        return merchants
    }

    func check(_ sample: Sample, _ what: String) throws {
        guard sample.operations > 0 else {
            throw PgBench.Failure(description: "\(what): no operation succeeded (\(sample.errors) errors; the first: \(sample.firstError ?? "?"))")
        }
        if sample.errors > 0 {
            logger.warning(
                "benchmark operations failed", metadata: ["workload": "\(what)", "errors": "\(sample.errors)", "first": "\(sample.firstError ?? "?")"])
        }
    }
}

/// A Calypso client: every request freshly signed with its account's secret, as real clients do.
struct SignedClient: Sendable {
    struct Merchant: Sendable {
        var account: AccountID
        var key: String
        var secret: String
        var exchangeId: Int64
    }

    let port: Int
    let http: HTTPClient
    /// The last timestamp used per account.
    static let clocks = Mutex<[String: Int64]>([:])

    /// One keep-alive connection per load loop, as the issue asks (one account per connection).
    init(port: Int, connections: Int) {
        self.port = port
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func shutdown() { http.shutdown { _ in } }

    /// A timestamp that never repeats for the account, so two identical calls are never a replay.
    ///
    /// Per account: one clock for every client went a millisecond ahead per request, so at
    /// thousands of requests a second it ran minutes ahead of the wall clock, past the server's
    /// timestamp window, and a whole later workload was refused (a clean-clone run's creates).
    /// One account's client stays far below 1,000 requests a second.
    static func timestamp(for account: String) -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return clocks.withLock { clocks in
            let next = max(now, (clocks[account] ?? 0) + 1)
            clocks[account] = next
            return next
        }
    }

    /// The exchange every create workload asks for: the smallest USDT_TRX → BTC exchange.
    static let createPayload = #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 10}"#

    /// One signed `exchange/create` of `createPayload`.
    func create(_ merchant: Merchant) async throws {
        _ = try await call("/api/v1/exchange/create", merchant, payload: Self.createPayload)
    }

    /// One signed `exchange/create`, answering the new exchange's id.
    func createReturningId(_ merchant: Merchant) async throws -> Int64 {
        struct Created: Decodable { let id: Int64 }
        let body = try await call("/api/v1/exchange/create", merchant, payload: Self.createPayload)
        return try JSONDecoder().decode(Created.self, from: Data(body.utf8)).id
    }

    func call(_ path: String, _ merchant: Merchant, payload: String) async throws -> String {
        let body = #"{"account":"\#(merchant.account.rawValue)","timestamp":\#(Self.timestamp(for: merchant.account.rawValue)),"payload":\#(payload)}"#
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

// MARK: - Webhook fan-out

extension Workloads {
    /// Webhook deliveries from one event to `subscriptions` subscriptions, sent by one process's
    /// dispatcher and delivery worker to a local receiver, against a plain AsyncHTTPClient loop
    /// posting the same bodies to the same receiver with the same concurrency. Then, at a steady
    /// pace, how long from an event's commit to its webhook's receipt.
    public func webhookFanOut(subscriptions: Int, exchangesPerRun: Int, concurrency: Int = 16) async throws -> [BenchmarkResult] {
        let receiver = BenchReceiver()
        let accounts = AccountService(client: client, secrets: secrets, market: market, logger: logger)
        let exchanges = ExchangeService(client: client, market: market, logger: logger)
        let ssrfGuard = SSRFGuard(allowedNetworks: [IPNetwork("127.0.0.0/8")!])
        let service = SubscriptionService(client: client, secrets: secrets, ssrfGuard: ssrfGuard, logger: logger)
        return try await LoopbackServer.with(router: receiver.router(), label: "swapline.bench.server") { port in
            let url = "http://127.0.0.1:\(port)/hook"
            let account = try await accounts.create(name: "bench webhooks").account
            _ = try await accounts.deposit(account: account, currency: Currency("USDT_TRX"), amountText: "100000000")
            for _ in 0..<subscriptions {
                _ = try await service.create(
                    account: account, request: SubscriptionRequest(requestId: UUID(), url: url, eventTypes: ["EXCHANGE_CREATED"]))
            }
            let createOne: @Sendable () async throws -> Void = {
                _ = try await exchanges.create(
                    account: account, request: CreateExchangeRequest(pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), amountText: "10"),
                    metadata: EventMetadata(actor: "bench"))
            }
            // The dispatcher first walks the events earlier workloads appended (it has nothing to
            // send for them); that walk is not what is measured.
            let dispatcher = ProjectionRunner(projection: WebhookDispatcher(market: market), client: client, logger: logger)
            while try await dispatcher.runOnce() > 0 {}
            var values: [Double] = []
            var baselines: [Double] = []
            var bodies: [[UInt8]] = []
            var meters: (CPUPerOperation?, CPUPerOperation?)
            let deliveries = Double(exchangesPerRun * subscriptions)
            for _ in 0..<runs {
                // A backlog of exchangesPerRun × subscriptions deliveries, sent as fast as the notifier can.
                for _ in 0..<exchangesPerRun { try await createOne() }
                let expected = receiver.count + exchangesPerRun * subscriptions
                let started = ContinuousClock.now
                (_, meters.0) = try await cpu.measure({
                    try await runNotifier(ssrfGuard: ssrfGuard, concurrency: concurrency) {
                        try await Self.waitUntil { receiver.count >= expected }
                    }
                }, operations: { deliveries })
                values.append(deliveries / (LoadRun.milliseconds(ContinuousClock.now - started) / 1000))
                bodies = receiver.lastBodies(exchangesPerRun * subscriptions)
                let baseline: Double
                (baseline, meters.1) = try await cpu.measure({ try await Self.plainPosts(bodies, url: url, concurrency: concurrency) }, operations: { _ in deliveries })
                baselines.append(baseline)
            }
            // Latency: one exchange at a time, a few per second, with the notifier already running.
            receiver.resetLatencies()
            try await runNotifier(ssrfGuard: ssrfGuard, concurrency: concurrency) {
                let expected = receiver.count + 20 * subscriptions
                for _ in 0..<20 {
                    try await createOne()
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await Self.waitUntil { receiver.count >= expected }
            }
            let latencies = receiver.latencies()
            var throughput = BenchmarkResult(
                name: "webhook deliveries, 1 event → \(subscriptions) subscriptions", values: values, baselines: baselines, goalRatio: 0.7,
                goal: "≥ 0.7× plain AsyncHTTPClient loop", unit: "deliveries/s")
            (throughput.cpu, throughput.baselineCPU) = meters
            return [
                throughput,
                BenchmarkResult(
                    name: "webhook latency, event commit → receipt", values: [BenchmarkResult.median(latencies)], baselines: nil, goalRatio: nil,
                    goal: "p99 < 100 ms", unit: "ms", p50: Self.percentile(latencies, 0.5), p99: Self.percentile(latencies, 0.99), p99Bound: 100),
            ]
        }
    }

    /// Runs the dispatcher and one delivery worker while `body` runs, then stops them gracefully.
    func runNotifier(ssrfGuard: SSRFGuard, concurrency: Int, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let sender = WebhookSender(ssrfGuard: ssrfGuard, connectTimeoutSeconds: 5, timeoutSeconds: 15, connectionsPerHost: concurrency, logger: logger)
        let worker = DeliveryWorker(
            store: DeliveryStore(client: client, secrets: secrets, logger: logger), sender: sender, concurrency: concurrency, logger: logger)
        let dispatcher = ProjectionRunner(projection: WebhookDispatcher(market: market), client: client, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [dispatcher, worker], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func waitUntil(seconds: Int = 120, _ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw PgBench.Failure(description: "webhooks did not arrive within \(seconds) s") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The baseline: the same bodies posted by a bare AsyncHTTPClient, `concurrency` at a time.
    static func plainPosts(_ bodies: [[UInt8]], url: String, concurrency: Int) async throws -> Double {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        defer { http.shutdown { _ in } }
        let next = Ticket()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.take()
                        guard index < bodies.count else { return }
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: bodies[index]))
                        let response = try await http.execute(request, timeout: .seconds(15))
                        _ = try await response.body.collect(upTo: 1 << 16)
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(bodies.count) / (LoadRun.milliseconds(ContinuousClock.now - started) / 1000)
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double? {
        Sample(operations: values.count, seconds: 0, latencies: values.sorted(), errors: 0).percentile(fraction)
    }
}

/// The merchant's endpoint of the webhook workload: answers 200 and notes, per webhook, how long
/// after its event's commit (the payload's `createdDate`) it arrived.
final class BenchReceiver: Sendable {
    private let state = Mutex<(count: Int, bodies: [[UInt8]], latencies: [Double])>((0, [], []))

    var count: Int { state.withLock { $0.count } }
    func latencies() -> [Double] { state.withLock { $0.latencies } }
    func resetLatencies() { state.withLock { $0.latencies = [] } }
    func lastBodies(_ n: Int) -> [[UInt8]] { state.withLock { Array($0.bodies.suffix(n)) } }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let bytes = Array(body.readableBytesView)
            let received = Date()
            // `"createdDate":"…"` is the payload's first date: the event's commit time.
            var latency: Double?
            if let text = String(bytes: bytes, encoding: .utf8), let range = text.range(of: #""createdDate":""#) {
                let date = text[range.upperBound...].prefix { $0 != "\"" }
                if let committed = Timestamp.parse(String(date)) { latency = received.timeIntervalSince(committed) * 1000 }
            }
            self.state.withLock { state in
                state.count += 1
                state.bodies.append(bytes)
                if state.bodies.count > 100_000 { state.bodies.removeFirst(50_000) }
                if let latency { state.latencies.append(latency) }
            }
            return .ok
        }
        return router
    }
}

/// Hands out 0, 1, 2, … to concurrent tasks.
final class Ticket: Sendable {
    private let counter = Atomic<Int>(0)
    func take() -> Int { counter.wrappingAdd(1, ordering: .relaxed).oldValue }
}

// MARK: - exchange/create over HTTP

extension Workloads {
    /// Signed `exchange/create` calls by `clients` connections (one account each), with their
    /// p50/p99, against pgbench running the statements one create sends (`createScript`) at the
    /// same concurrency. No execution worker runs: this is the API's part alone.
    public func exchangeCreate(clients: Int) async throws -> BenchmarkResult {
        let accounts = servingAccounts()
        let exchanges = ExchangeService(client: client, market: market, logger: logger)
        let merchants = try await openMerchants(clients, name: "bench create", deposit: "100000000")
        let router = buildRouter(APIDependencies(accounts: accounts, exchanges: exchanges))
        var values: [Double] = []
        var baselines: [PgBench.Outcome] = []
        var samples: [Sample] = []
        var meters: (CPUPerOperation?, CPUPerOperation?)
        for _ in 0..<runs {
            let sample: Sample
            (sample, meters.0) = try await LoopbackServer.with(router: router, label: "swapline.bench.server") { port in
                let http = SignedClient(port: port, connections: clients)
                defer { http.shutdown() }
                return await cpu.measure({
                    await LoadRun.closedLoop(concurrency: clients, duration: .seconds(seconds)) { index in
                        try await http.create(merchants[index])
                    }
                }, operations: { Double($0.operations) })
            }
            try check(sample, "exchange/create")
            values.append(sample.rate)
            samples.append(sample)
            let baseline: PgBench.Outcome
            (baseline, meters.1) = try await meteredPgbench(script: Self.createScript, clients: clients)
            baselines.append(baseline)
            try await removePgbenchExchangesFromQueue()
        }
        let median = samples.sorted { $0.rate < $1.rate }[samples.count / 2]
        var result = BenchmarkResult(
            name: "exchange/create over HTTP, \(clients) clients", values: values, baselines: baselines.map(\.transactionsPerSecond),
            goalRatio: 0.6, goal: "≥ 0.6× pgbench, p99 < 50 ms", unit: "req/s", p50: median.percentile(0.5), p99: median.percentile(0.99),
            baselineLatencies: PgBench.Outcome.median(baselines)?.latencies, p99Bound: 50)
        (result.cpu, result.baselineCPU) = meters
        return result
    }
}

extension Workloads {
    /// The statements one signed create sends, as PostgreSQL's log showed them
    /// (`log_statement = all`) once its caches are warm: the replay guard (committed without
    /// waiting for the flush, as the server does) with the exchange id in the same round trip
    /// (the server draws ids 33 at a time, `ExchangeIdReserve`), then one transaction with
    /// both streams' events, the inline read models and the execution queue, and after the commit
    /// the announcement to the runners and the execution worker (which the server shares
    /// between concurrent creates, as it does the replay guard's records and, for creates
    /// without a quote or an idempotency key, the transaction itself: group commit). The
    /// key look-up and the account stream's tail are not sent: the key cache answers the one,
    /// and the server decides on the account as it last saw it (the append's expected version
    /// checks that) instead of reading the other. Each pgbench client plays one account. (No `:word`
    /// inside literals: pgbench would take it for a variable, hence `api-key-…` in the metadata.)
    static let createScript = """
        WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO seen_request_digests (digest) SELECT decode(md5(random()::text) || md5(random()::text), 'hex')
            FROM async_commit ON CONFLICT (digest) DO UPDATE SET seen_at = now() WHERE seen_request_digests.seen_at < now() - interval '6 minutes'
            RETURNING nextval('exchange_ids') AS exchange \\gset
        BEGIN;
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
        SELECT s, NULLIF(v, 0), e, t, sv, d::jsonb, m::jsonb, '\\x', '\\x'
        FROM unnest(ARRAY['exchange-' || :exchange, 'account-bench-' || :client_id]::text[], ARRAY[1, 0]::bigint[],
                    ARRAY[gen_random_uuid(), gen_random_uuid()]::uuid[], ARRAY['ExchangeRequested', 'FundsHeld']::text[], ARRAY[1, 1]::int[],
                    ARRAY['{"id": ' || :exchange || ', "price": {"fee": "0.01", "pair": {"source": "USDT_TRX", "destination": "BTC"}, "rate": "0.000010395832", "direction": "SELL", "sourceAmount": "10", "destinationAmount": "0.00010385"}, "account": "0xf804cc04bb0271d1f19761db80194b3e179d8487", "requestedAt": "2026-11-25T14:43:36.719Z"}',
                          '{"at": "2026-11-25T14:43:36.719Z", "amount": "10", "currency": "USDT_TRX", "exchangeId": ' || :exchange || '}']::text[],
                    ARRAY['{"actor": "api-key-bd1c23b24e2a656562800531fb1ea8ec", "requestId": "1e02e1d2-6ce1-4cd0-98a6-becdb8ee011a"}',
                          '{"actor": "api-key-bd1c23b24e2a656562800531fb1ea8ec", "requestId": "1e02e1d2-6ce1-4cd0-98a6-becdb8ee011a"}']::text[])
             WITH ORDINALITY AS input(s, v, e, t, sv, d, m, n)
        ORDER BY n
        RETURNING global_position, transaction_id::text, stream_id, stream_version, event_id, event_type, schema_version,
                  data::text, metadata::text, recorded_at, prev_hash, hash;
        INSERT INTO read.exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
            destination_amount, rate, fee, state, status, quote_id, created_at, updated_at, stream_version)
        VALUES (:exchange, 'account-bench-' || :client_id, 'USDT_TRX', 'BTC', 'SELL', '10'::numeric, '0.00010385'::numeric,
            '0.000010395832'::numeric, '0.01'::numeric, 'IN_PROGRESS', 'requested', NULL, now(), now(), 1)
        ON CONFLICT (id) DO NOTHING;
        INSERT INTO read.balances (account_id, currency, available, held, updated_at)
        VALUES ('account-bench-' || :client_id, 'USDT_TRX', '-10'::numeric, '10'::numeric, now())
        ON CONFLICT (account_id, currency) DO UPDATE SET
            available = read.balances.available + EXCLUDED.available, held = read.balances.held + EXCLUDED.held,
            updated_at = GREATEST(read.balances.updated_at, EXCLUDED.updated_at);
        INSERT INTO execution_queue (exchange_id, due_at) SELECT unnest(ARRAY[:exchange]::bigint[]), now();
        COMMIT;
        SELECT pg_notify(channel, '') FROM unnest(ARRAY['swapline_events', 'swapline_execution']) AS channel;

        """
}
