import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore
import Synchronization

// MARK: - Whole lifecycle: create over signed HTTP → execution worker → COMPLETED

extension Workloads {
    /// Exchange lifecycles per second with `clients` concurrent clients (one account each), each
    /// client doing what pgbench's client does: a signed `exchange/create` to a
    /// `swapline serve --api --execution` process whose simulated venue fills at once, then
    /// waiting until its exchange is `COMPLETED`, then the next. The baseline is pgbench running
    /// the statements of one create and of the worker's execution of it (`lifecycleScript`) at
    /// the same concurrency, one lifecycle after another per client.
    ///
    /// A client learns of its completion from `CompletionWatcher`: one query for every client's
    /// exchange every 5 ms, sent by the benchmark straight to PostgreSQL. Polling `exchange/get`
    /// instead would add a signed request, a key look-up and a replay-guard insert per poll to the
    /// very server measured. (Until 2026-11-30 the clients created without waiting and the figure
    /// was the completions in the window: the worker's share of commits while the creators took
    /// the rest, not lifecycles at this concurrency.)
    public func lifecycle(clients: Int) async throws -> BenchmarkResult {
        let merchants = try await openMerchants(clients, name: "bench lifecycle", deposit: "100000000")
        let accounts = merchants.map(\.account.rawValue)
        // The venue fills at once and never rejects; every exchange can complete.
        let environment = ["SWAPLINE_VENUE_LATENCY_MS": "0", "SWAPLINE_VENUE_FAILURE_RATE": "0"]
        var measured: [(completed: Sample, baseline: PgBench.Outcome)] = []
        var meters: (CPUPerOperation?, CPUPerOperation?)
        for _ in 0..<runs {
            // A server per run, stopped before pgbench runs: its worker would take pgbench's
            // exchanges from the queue (the create's NOTIFY wakes it) and race pgbench's clients.
            let completed: Sample
            (completed, meters.0) = try await ServerProcess.with(executable: executable, roles: ["--api", "--execution"], environment: environment) { server in
                // Exchanges earlier workloads left IN_PROGRESS (the create workload runs no worker)
                // are executed first: not what is measured.
                try await waitForEmptyExecutionQueue()
                let http = SignedClient(port: server.port, connections: clients)
                defer { http.shutdown() }
                let watcher = CompletionWatcher(client: client, logger: logger)
                let (sample, meter) = try await cpu.measure({
                    try await withThrowingTaskGroup(of: Sample?.self) { group in
                        group.addTask {
                            try await watcher.run()
                            return nil
                        }
                        group.addTask {
                            let lifecycles = await LoadRun.closedLoop(concurrency: clients, duration: .seconds(seconds)) { index in
                                let id = try await http.createReturningId(merchants[index])
                                try await watcher.finished(id)
                            }
                            return lifecycles
                        }
                        defer { group.cancelAll() }
                        while let result = try await group.next() {
                            if let sample = result { return sample }
                        }
                        throw PgBench.Failure(description: "lifecycle: the load ended without a result")
                    }
                }, operations: { Double($0.operations) })
                try check(sample, "lifecycles")
                let unfinished = try await client.query(
                    "SELECT count(*) FROM read.exchanges WHERE account_id = ANY(\(accounts)) AND state <> 'COMPLETED'", logger: logger)
                for try await count in unfinished.decode(Int64.self) where count > 0 {
                    throw PgBench.Failure(description: "lifecycle: \(count) exchanges did not complete")
                }
                return (sample, meter)
            }
            let baseline: PgBench.Outcome
            (baseline, meters.1) = try await meteredPgbench(script: Self.lifecycleScript, clients: clients)
            try await removePgbenchExchangesFromQueue()
            measured.append((completed, baseline))
        }
        let median = measured.map(\.completed).sorted { $0.rate < $1.rate }[measured.count / 2]
        var result = BenchmarkResult(
            name: "exchange lifecycle, signed create → COMPLETED, \(clients) clients", values: measured.map(\.completed.rate),
            baselines: measured.map(\.baseline.transactionsPerSecond), goalRatio: 0.5, goal: "≥ 0.5× pgbench", unit: "exchanges/s",
            p50: median.percentile(0.5), p99: median.percentile(0.99), baselineLatencies: PgBench.Outcome.median(measured.map(\.baseline))?.latencies)
        (result.cpu, result.baselineCPU) = meters
        return result
    }

    /// pgbench's exchanges (the create script's, and any a lifecycle run left when its time was
    /// up) are not for a worker: their events name an account whose stream is not theirs.
    func removePgbenchExchangesFromQueue() async throws {
        try await client.query(
            """
            DELETE FROM execution_queue
            WHERE exchange_id IN (SELECT id FROM read.exchanges WHERE account_id LIKE 'account-bench-%')
            """, logger: logger)
    }

    /// Waits until the execution worker has no exchange left to carry (at most 10 minutes).
    func waitForEmptyExecutionQueue() async throws {
        try await removePgbenchExchangesFromQueue()
        let deadline = ContinuousClock.now + .seconds(600)
        while true {
            let rows = try await client.query("SELECT count(*) FROM execution_queue", logger: logger)
            var left: Int64 = 0
            for try await count in rows.decode(Int64.self) { left = count }
            if left == 0 { return }
            guard ContinuousClock.now < deadline else {
                throw PgBench.Failure(description: "the execution worker still has \(left) exchanges after 10 minutes")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

extension Workloads {
    /// One exchange's whole lifecycle as PostgreSQL's log showed it (`log_statement = all`, one
    /// signed create against `swapline serve --api --execution`, venue latency 0): the create's
    /// statements (`createScript`), then the execution worker's — its claim, the quote and the
    /// submission (one append, a read-model update each), the venue's status, order and
    /// status again, and the completion with the settlement, both read models and the queue row
    /// in one transaction. No stream is read: the worker shares the API's aggregate cache and
    /// decides on the exchange and the account as the process last saw them.
    /// One deviation: the worker claims up to 32 due exchanges in one statement; here each
    /// client claims its own exchange (`exchange_id = :exchange`), else the clients would claim
    /// each other's.
    static let lifecycleScript = createScript + executionScript

    static let executionScript = """
        UPDATE execution_queue SET lease_until = now() + make_interval(secs => 30), attempts = attempts + 1
        WHERE exchange_id IN (
            SELECT exchange_id FROM execution_queue
            WHERE exchange_id = :exchange AND due_at <= now() AND (lease_until IS NULL OR lease_until < now())
            ORDER BY due_at LIMIT 32
            FOR UPDATE SKIP LOCKED)
        RETURNING exchange_id;
        BEGIN;
        \(appendStatement(
            streams: "'exchange-' || :exchange, 'exchange-' || :exchange", versions: "2, 3", types: "'ExchangeQuoted', 'ExchangeSubmitted'",
            datas: #"'{"quotedAt": "2026-11-29T21:22:17.296Z", "executionRate": "0.000010395832"}', '{"submittedAt": "2026-11-29T21:22:17.296Z", "clientOrderId": "swapline-' || :exchange || '"}'"#,
            metadatas: "\(workerMetadata), \(workerMetadata)"))
        UPDATE read.exchanges SET status = 'quoted', execution_rate = '0.000010395832'::numeric,
            quoted_at = now(), updated_at = now(), stream_version = 2
        WHERE id = :exchange AND stream_version < 2;
        UPDATE read.exchanges SET status = 'submitted', client_order_id = 'swapline-' || :exchange,
            submitted_at = now(), updated_at = now(), stream_version = 3
        WHERE id = :exchange AND stream_version < 3;
        COMMIT;
        SELECT pg_notify(channel, '') FROM unnest(ARRAY['swapline_events']) AS channel;
        \(venueStatus)
        INSERT INTO venue_orders (client_order_id, source_currency, destination_currency, source_amount, destination_amount,
                                  status, fill_due_at, filled_at)
        VALUES ('swapline-' || :exchange, 'USDT_TRX', 'BTC', '10'::numeric, '0.00010385'::numeric, 'FILLED',
                now() + make_interval(secs => 0 / 1000.0), CASE WHEN 'FILLED' = 'FILLED' THEN now() END)
        ON CONFLICT (client_order_id) DO NOTHING;
        \(venueStatus)
        BEGIN;
        \(appendStatement(
            streams: "'exchange-' || :exchange, 'account-bench-' || :client_id", versions: "4, 0", types: "'ExchangeCompleted', 'ExchangeSettled'",
            datas: #"'{"completedAt": "2026-11-29T21:22:17.359Z", "sourceAmount": "10", "destinationAmount": "0.00010385"}', '{"at": "2026-11-29T21:22:17.359Z", "exchangeId": ' || :exchange || ', "sourceAmount": "10", "sourceCurrency": "USDT_TRX", "destinationAmount": "0.00010385", "destinationCurrency": "BTC"}'"#,
            metadatas: "\(workerMetadata), \(workerMetadata)"))
        UPDATE read.exchanges SET status = 'completed', state = 'COMPLETED', source_amount = '10'::numeric,
            destination_amount = '0.00010385'::numeric, completed_at = now(), updated_at = now(), stream_version = 4
        WHERE id = :exchange AND stream_version < 4;
        \(balanceUpsert(currency: "USDT_TRX", available: "0", held: "-10"))
        \(balanceUpsert(currency: "BTC", available: "0.00010385", held: "0"))
        DELETE FROM execution_queue WHERE exchange_id = :exchange;
        COMMIT;
        SELECT pg_notify(channel, '') FROM unnest(ARRAY['swapline_events']) AS channel;

        """

    static let workerMetadata = #"'{"actor": "execution-worker", "correlationId": "exchange-' || :exchange || '"}'"#

    /// `EventStore.insert`'s statement with the arrays spelled out (one element per event).
    static func appendStatement(streams: String, versions: String, types: String, datas: String, metadatas: String) -> String {
        let count = versions.split(separator: ",").count
        let uuids = Array(repeating: "gen_random_uuid()", count: count).joined(separator: ", ")
        let schemaVersions = Array(repeating: "1", count: count).joined(separator: ", ")
        return """
            INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
            SELECT s, NULLIF(v, 0), e, t, sv, d::jsonb, m::jsonb, '\\x', '\\x'
            FROM unnest(ARRAY[\(streams)]::text[], ARRAY[\(versions)]::bigint[], ARRAY[\(uuids)]::uuid[], ARRAY[\(types)]::text[],
                        ARRAY[\(schemaVersions)]::int[], ARRAY[\(datas)]::text[], ARRAY[\(metadatas)]::text[])
                 WITH ORDINALITY AS input(s, v, e, t, sv, d, m, n)
            ORDER BY n
            RETURNING global_position, transaction_id::text, stream_id, stream_version, event_id, event_type, schema_version,
                      data::text, metadata::text, recorded_at, prev_hash, hash;
            """
    }

    /// `SimulatedVenue.status`.
    static let venueStatus = """
        WITH filled AS (
            UPDATE venue_orders SET status = 'FILLED', filled_at = now()
            WHERE client_order_id = 'swapline-' || :exchange AND status = 'PENDING' AND fill_due_at <= now()
            RETURNING status
        )
        SELECT status FROM filled
        UNION ALL
        SELECT status FROM venue_orders WHERE client_order_id = 'swapline-' || :exchange AND NOT EXISTS (SELECT 1 FROM filled);
        """

    /// `BalancesReadModel`'s upsert for the pgbench client's account.
    static func balanceUpsert(currency: String, available: String, held: String) -> String {
        """
        INSERT INTO read.balances (account_id, currency, available, held, updated_at)
        VALUES ('account-bench-' || :client_id, '\(currency)', '\(available)'::numeric, '\(held)'::numeric, now())
        ON CONFLICT (account_id, currency) DO UPDATE SET
            available = read.balances.available + EXCLUDED.available, held = read.balances.held + EXCLUDED.held,
            updated_at = GREATEST(read.balances.updated_at, EXCLUDED.updated_at);
        """
    }
}

/// Wakes each lifecycle client when its exchange is finished, with one query for every waiting
/// client's exchange every 5 ms (at most 200 small index look-ups a second on the server).
final class CompletionWatcher: Sendable {
    struct Failed: Error, CustomStringConvertible {
        let id: Int64
        let state: String
        var description: String { "exchange \(id) ended \(state), not COMPLETED" }
    }

    let client: PostgresClient
    let logger: Logger
    private let waiting = Mutex<[Int64: CheckedContinuation<Void, any Error>]>([:])

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Returns once exchange `id` is COMPLETED; throws if it failed.
    func finished(_ id: Int64) async throws {
        try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0[id] = continuation }
        }
    }

    /// Polls until cancelled, then fails whoever still waits.
    func run() async throws {
        defer {
            let left = waiting.withLock { waiting in
                defer { waiting = [:] }
                return waiting
            }
            for (_, continuation) in left { continuation.resume(throwing: CancellationError()) }
        }
        while !Task.isCancelled {
            let ids = waiting.withLock { Array($0.keys) }
            if !ids.isEmpty {
                let rows = try await client.query(
                    "SELECT id, state FROM read.exchanges WHERE id = ANY(\(ids)) AND state IN ('COMPLETED', 'FAILED')", logger: logger)
                for try await (id, state) in rows.decode((Int64, String).self) {
                    let continuation = waiting.withLock { $0.removeValue(forKey: id) }
                    if state == "COMPLETED" { continuation?.resume() } else { continuation?.resume(throwing: Failed(id: id, state: state)) }
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
