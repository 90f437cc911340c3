import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections
import Synchronization

// MARK: - Seeding: event histories written by SQL, through the real trigger

/// Writes long histories fast: each batch is one `INSERT … SELECT` over `generate_series`, so
/// every row still goes through the insert trigger (version check, hash chain, stream head) and
/// is as verifiable as any other. The events are copies of templates the domain itself encoded,
/// with `sentinel` replaced by each exchange's id, so their shape is the real one.
struct HistorySeeder: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Events per INSERT statement (and transaction) into many streams.
    var eventsPerBatch = 10_000
    /// Events per statement into one stream: the trigger updates that stream's head once per
    /// row, and every version a transaction leaves is walked by its next look-up, so a statement
    /// of 10,000 rows into one stream takes minutes where ten of 1,000 take seconds.
    var eventsPerBatchInOneStream = 1_000

    /// Stands for the exchange id in the templates (13 digits: no amount, rate or time contains it).
    static let sentinel: ExchangeID = 8_888_888_888_888

    /// Where the copies go.
    enum Target {
        /// Stream `exchange-<id>` per exchange, the templates as its versions 1…n.
        case exchangeStreams
        /// One stream; exchange `first + k` takes versions `firstVersion + k × templates.count …`.
        case stream(String, firstVersion: Int64)
    }

    /// The exchange's four events (requested, quoted, submitted, completed) and the account's two
    /// (funds held, exchange settled), as the API and the execution worker encode them.
    static func templates(market: Market, account: AccountID) throws -> (exchange: [NewEvent], account: [NewEvent]) {
        let now = Date()
        let id = sentinel
        let pair = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
        let price = try market.price(pair, amountText: "10", direction: .sell, now: now)
        let api = EventMetadata(actor: "api-key-0123456789abcdef0123456789abcdef", requestId: UUID().uuidString.lowercased())
        let worker = EventMetadata(actor: "execution-worker", correlationId: "exchange-\(id)")
        var state: ExchangeState?
        var exchange: [NewEvent] = []
        let commands: [(ExchangeCommand, EventMetadata)] = [
            (.request(ExchangeRequested(id: id, account: account, price: price, requestedAt: now)), api),
            (.quote(executionRate: price.rate, at: now), worker),
            (.submit(clientOrderId: "swapline-\(id)", at: now), worker),
            (.complete(at: now), worker),
        ]
        for (command, metadata) in commands {
            for event in try Exchange.decide(command, state: state) {
                state = Exchange.evolve(state, event)
                exchange.append(try Streams.newEvent(event, metadata: metadata))
            }
        }
        let held = AccountEvent.held(FundsHeld(exchangeId: id, currency: pair.source, amount: price.sourceAmount, at: now))
        let settled = AccountEvent.settled(
            ExchangeSettled(
                exchangeId: id, sourceCurrency: pair.source, sourceAmount: price.sourceAmount, destinationCurrency: pair.destination,
                destinationAmount: price.destinationAmount, at: now))
        return (exchange, [try Streams.newEvent(held, metadata: api), try Streams.newEvent(settled, metadata: worker)])
    }

    /// Copies `templates` once per exchange id in `ids`, skipping batches already written (a run
    /// interrupted, or the previous run on the same database). `progress` gets the events written.
    func seed(_ templates: [NewEvent], ids: ClosedRange<Int64>, into target: Target, progress: @Sendable (Int) -> Void = { _ in }) async throws {
        let events = if case .stream = target { min(eventsPerBatch, eventsPerBatchInOneStream) } else { eventsPerBatch }
        let perBatch = Int64(max(1, events / templates.count))
        var low = ids.lowerBound
        while low <= ids.upperBound {
            let high = min(ids.upperBound, low + perBatch - 1)
            if !(try await written(templates, id: high, ids: ids, target: target)) {
                try await insert(templates, from: low, to: high, first: ids.lowerBound, target: target)
            }
            progress(Int(high - ids.lowerBound + 1) * templates.count)
            low = high + 1
        }
    }

    /// Whether exchange `id`'s copies are there (batches commit whole, so its batch is).
    func written(_ templates: [NewEvent], id: Int64, ids: ClosedRange<Int64>, target: Target) async throws -> Bool {
        let (stream, version): (String, Int64) =
            switch target {
            case .exchangeStreams: ("exchange-\(id)", Int64(templates.count))
            case .stream(let stream, let firstVersion): (stream, firstVersion + (id - ids.lowerBound + 1) * Int64(templates.count) - 1)
            }
        let rows = try await client.query(
            "SELECT count(*) FROM stream_heads WHERE stream_id = \(stream) AND last_version >= \(version)", logger: logger)
        for try await count in rows.decode(Int64.self) { return count > 0 }
        return false
    }

    func insert(_ templates: [NewEvent], from low: Int64, to high: Int64, first: Int64, target: Target) async throws {
        let stream: String
        let version: String
        switch target {
        case .exchangeStreams:
            stream = "'exchange-' || g"
            version = "t.n"
        case .stream(let name, let firstVersion):
            // A stream id is ours (no quote in it), so it can be spelled inline.
            stream = "'\(name)'"
            version = "\(firstVersion) + (g - \(first)) * \(templates.count) + t.n - 1"
        }
        let sentinel = String(Self.sentinel)
        try await client.query(
            """
            INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
            SELECT \(unescaped: stream), \(unescaped: version), gen_random_uuid(), t.type, t.sv,
                   replace(t.data, \(sentinel), g::text)::jsonb, replace(t.metadata, \(sentinel), g::text)::jsonb, '\\x', '\\x'
            FROM generate_series(\(low)::bigint, \(high)::bigint) AS g,
                 unnest(\(templates.map(\.eventType))::text[], \(templates.map { Int32($0.schemaVersion) })::int[],
                        \(templates.map(\.data))::text[], \(templates.map(\.metadata))::text[]) WITH ORDINALITY AS t(type, sv, data, metadata, n)
            ORDER BY g, t.n
            """, logger: logger)
    }
}

/// Prints how far a long preparation has come, at most every few seconds.
final class SeedProgress: Sendable {
    let label: String
    let total: Int
    let started = ContinuousClock.now
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    func report(_ done: Int) {
        let now = ContinuousClock.now
        let due = last.withLock { last in
            guard done >= total || last.map({ now - $0 >= .seconds(5) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        let seconds = LoadRun.milliseconds(now - started) / 1000
        print("  \(label): \(done) of \(total) events, \(String(format: "%.0f", Double(done) / max(seconds, 0.001))) events/s")
    }
}

// MARK: - Loading an aggregate with a long history

extension Workloads {
    /// Loads of an account aggregate with `events` events, the way the server loads one
    /// (`AggregateLoader`: a cached (state, version) plus whatever is newer), against the same on
    /// a new account (two events). The goal is a ratio below 2: lower is better. A second row
    /// shows the first load after a restart, when the cache is empty and the whole stream is
    /// replayed (no goal: the design asks for a cache or snapshots, not for a fast replay).
    public func aggregateLoad(events: Int, loadsPerRun: Int = 200) async throws -> [BenchmarkResult] {
        let account = try await seededAccount(events: events)
        var warm: [Double] = []
        var warmBaselines: [Double] = []
        var cold: [Double] = []
        var coldBaselines: [Double] = []
        var samples: [Sample] = []
        for _ in 0..<runs {
            let fresh = try await openMerchants(1, name: "bench aggregate new", deposit: "100000000")[0].account
            for (isBaseline, id) in [(false, account), (true, fresh)] {
                // A new loader is a server just started: its first load replays the stream.
                let loader = AggregateLoader(store: EventStore.withReadModels(client: client, logger: logger))
                let began = ContinuousClock.now
                let first = try await loader.loadAccount(id)
                let firstMilliseconds = LoadRun.milliseconds(ContinuousClock.now - began)
                guard first.state != nil, first.version >= (isBaseline ? 2 : Int64(events)) else {
                    throw PgBench.Failure(description: "account \(id) loaded at version \(first.version)")
                }
                var latencies: [Double] = []
                for _ in 0..<loadsPerRun {
                    let began = ContinuousClock.now
                    _ = try await loader.loadAccount(id)
                    latencies.append(LoadRun.milliseconds(ContinuousClock.now - began))
                }
                let sample = Sample(operations: latencies.count, seconds: 0, latencies: latencies.sorted(), errors: 0)
                if isBaseline {
                    coldBaselines.append(firstMilliseconds)
                    warmBaselines.append(sample.percentile(0.5) ?? 0)
                } else {
                    cold.append(firstMilliseconds)
                    warm.append(sample.percentile(0.5) ?? 0)
                    samples.append(sample)
                }
            }
        }
        let median = samples.sorted { ($0.percentile(0.5) ?? 0) < ($1.percentile(0.5) ?? 0) }[samples.count / 2]
        let count = grouped(events)
        return [
            BenchmarkResult(
                name: "account load after \(count) events, as the server loads it (cached state + newer events)", values: warm,
                baselines: warmBaselines, goalRatio: nil, goal: "< 2× a new account", unit: "ms", p50: median.percentile(0.5),
                p99: median.percentile(0.99), maximumRatio: 2),
            BenchmarkResult(
                name: "account load after \(count) events, first load after a restart (whole stream replayed)", values: cold,
                baselines: coldBaselines, goalRatio: nil, goal: "none (a restart; the cache is the design's answer)", unit: "ms",
                lowerIsBetter: true),
        ]
    }

    /// An account whose stream has `events` events: opened, one deposit, then funds held and an
    /// exchange settled, over and over, as a merchant's account looks after that many exchanges.
    /// Kept across runs on the same database (found by its name) and topped up if shorter.
    func seededAccount(events: Int) async throws -> AccountID {
        let name = "bench aggregate \(events) events"
        var found: AccountID?
        for try await id in try await client.query("SELECT account_id FROM accounts WHERE name = \(name) LIMIT 1", logger: logger).decode(String.self) {
            found = AccountID(id)
        }
        let account: AccountID
        if let found {
            account = found
        } else {
            account = try await openMerchants(1, name: name, deposit: "100000000")[0].account
        }
        let seeder = HistorySeeder(client: client, logger: logger)
        let templates = try HistorySeeder.templates(market: market, account: account).account
        // Versions 1 and 2 are the opening and the deposit; each exchange adds two events.
        let exchanges = Int64(max(0, events - 2) / templates.count)
        guard exchanges > 0 else { return account }
        let progress = SeedProgress(label: "seeding \(name)", total: Int(exchanges) * templates.count)
        try await seeder.seed(
            templates, ids: Self.seededExchangeIds.lowerBound...(Self.seededExchangeIds.lowerBound + exchanges - 1),
            into: .stream(Streams.account(account), firstVersion: 3)
        ) { progress.report($0) }
        return account
    }

    /// Exchange ids of seeded histories: far above the sequence's, so they never meet a real one.
    static let seededExchangeIds: ClosedRange<Int64> = 5_000_000_000_000...5_999_999_999_999
}

// MARK: - Projection rebuild

extension Workloads {
    /// `swapline projections rebuild` (every rebuildable read model, at once) over an
    /// event table holding at least `events` exchange events, in events of the table per second,
    /// against psql reading the same rows in the same order with `COPY … TO STDOUT` and throwing
    /// them away (PostgreSQL producing the rows, and nothing done with them).
    public func projectionRebuild(events: Int) async throws -> BenchmarkResult {
        // Exchanges of four events each (requested, quoted, submitted, completed), in streams of
        // their own, for a merchant account that does not need to exist for the read models.
        let seeder = HistorySeeder(client: client, logger: logger)
        let templates = try HistorySeeder.templates(market: market, account: Self.rebuildAccount).exchange
        let exchanges = Int64(max(1, events / templates.count))
        // Above the aggregate workload's ids, so the two histories never share an exchange id.
        let first = Self.seededExchangeIds.upperBound - 1_000_000_000
        let progress = SeedProgress(label: "seeding \(exchanges) exchanges", total: Int(exchanges) * templates.count)
        try await seeder.seed(templates, ids: first...(first + exchanges - 1), into: .exchangeStreams) { progress.report($0) }
        let rows = try await client.query("SELECT count(*) FROM events", logger: logger)
        var total: Int64 = 0
        for try await count in rows.decode(Int64.self) { total = count }
        let rebuilder = ProjectionRebuilder(client: owner, logger: logger)
        let copyQuery = "SELECT \(EventStore.columns.replacingOccurrences(of: "\n", with: " ")) FROM events ORDER BY transaction_id, global_position"
        var values: [Double] = []
        var baselines: [Double] = []
        for _ in 0..<runs {
            let started = ContinuousClock.now
            try await rebuilder.rebuild(ReadModels.rebuildable)
            let seconds = LoadRun.milliseconds(ContinuousClock.now - started) / 1000
            print("  rebuilt \(ReadModels.rebuildable.count) read models at once: \(String(format: "%.1f", seconds)) s")
            values.append(Double(total) / seconds)
            baselines.append(try pgbench.copyRate(query: copyQuery))
        }
        return BenchmarkResult(
            name: "projection rebuild, all \(ReadModels.rebuildable.count) read models, \(grouped(Int(total))) events",
            values: values, baselines: baselines, goalRatio: 0.3, goal: "≥ 200,000 events/s and ≥ 0.3× COPY", unit: "events/s",
            minimumValue: 200_000)
    }

    /// The merchant of the rebuild's seeded exchanges.
    static let rebuildAccount = AccountID("0x00000000000000000000000000000000000bec44")!
}

/// 1000000 → "1,000,000", the same on every machine (no locale).
func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var groups: [Substring] = []
    var end = digits.endIndex
    while end > digits.startIndex {
        let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
        groups.insert(digits[start..<end], at: 0)
        end = start
    }
    return (number < 0 ? "-" : "") + groups.joined(separator: ",")
}
