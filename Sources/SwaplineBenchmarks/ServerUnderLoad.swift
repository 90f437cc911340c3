import Foundation
import Logging
import PostgresNIO
import SwaplineNotifier
import SwaplineProjections
import Synchronization

// MARK: - Projection lag and server memory under the create workload

extension Workloads {
    /// Runs a whole `swapline serve` (every role: API, execution worker, projection runners,
    /// notifier) as a child process while `clients` connections send signed creates for `seconds`,
    /// and meanwhile samples (1) every projection runner's lag, commit → projected, as the
    /// `swapline_projection_lag_milliseconds` gauge computes it (`ProjectionRunner.lag`), ten
    /// times a second, and (2) the server process's resident memory (VmRSS) once a second.
    /// The server is a process of its own, so its memory is its alone, not the load generator's.
    public func serverUnderCreateLoad(clients: Int, seconds: Int) async throws -> [BenchmarkResult] {
        let merchants = try await openMerchants(clients, name: "bench server", deposit: "100000000")
        let runners = ReadModels.runners.map(\.name) + [WebhookDispatcher.checkpointName]
        let sampled = Sampled()
        let environment = ["SWAPLINE_VENUE_LATENCY_MS": "0", "SWAPLINE_VENUE_FAILURE_RATE": "0"]
        let creates = try await ServerProcess.with(executable: executable, roles: [], environment: environment) { server in
            // Not measured: the runners' walk through what earlier workloads appended, and the
            // exchanges they left for the execution worker.
            try await waitUntilCaughtUp(runners)
            try await waitForEmptyExecutionQueue()
            let http = SignedClient(port: server.port, connections: clients)
            defer { http.shutdown() }
            return try await withThrowingTaskGroup(of: Sample?.self) { group in
                group.addTask {
                    while !sampled.done.load(ordering: .relaxed) {
                        var lags: [Double] = []
                        for name in runners {
                            lags.append(Double(try await ProjectionRunner.lag(of: name, client: client, logger: logger).milliseconds))
                        }
                        sampled.lags.withLock { $0.append(lags) }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return nil
                }
                group.addTask {
                    while !sampled.done.load(ordering: .relaxed) {
                        if let mebibytes = server.residentMebibytes() { sampled.memory.withLock { $0.append(mebibytes) } }
                        try await Task.sleep(for: .seconds(1))
                    }
                    return nil
                }
                let sample = await LoadRun.closedLoop(concurrency: clients, duration: .seconds(seconds)) { index in
                    try await http.create(merchants[index])
                }
                sampled.done.store(true, ordering: .relaxed)
                try await group.waitForAll()
                return sample
            }
        }
        try check(creates, "exchange/create against swapline serve")
        print("  \(String(format: "%.0f", creates.rate)) creates/s against swapline serve, p99 \(String(format: "%.1f", creates.percentile(0.99) ?? 0)) ms")
        let lagsByRunner = sampled.lags.withLock { $0 }
        let lagSamples = lagsByRunner.map { $0.max() ?? 0 }
        // Which runner sets the tail: each one's own figures beside the worst-of-both that counts.
        for (index, name) in runners.enumerated() {
            let own = lagsByRunner.map { $0[index] }
            print("  lag of \(name): p50 \(String(format: "%.0f", Self.percentile(own, 0.5) ?? 0)) ms, p99 \(String(format: "%.0f", Self.percentile(own, 0.99) ?? 0)) ms")
        }
        let rss = sampled.memory.withLock { $0 }
        guard !rss.isEmpty else { throw PgBench.Failure(description: "no VmRSS sample of the server (no /proc?)") }
        // The shape, not only the ends: warming caches level off, a leak keeps climbing.
        let tenths = (1...10).map { tenth in rss[min(rss.count - 1, rss.count * tenth / 10)] }
        print("  server RSS at each tenth of the run: \(tenths.map { String(format: "%.0f", $0) }.joined(separator: " ")) MiB")
        // Growth: the mean of the last quarter of the samples against the first quarter's.
        let quarter = max(1, rss.count / 4)
        let firstQuarter = rss.prefix(quarter).reduce(0, +) / Double(quarter)
        let lastQuarter = rss.suffix(quarter).reduce(0, +) / Double(quarter)
        return [
            BenchmarkResult(
                name: "projection lag during exchange/create, commit → projected (\(runners.joined(separator: ", ")))",
                values: [BenchmarkResult.median(lagSamples)], baselines: nil, goalRatio: nil, goal: "p99 < 50 ms", unit: "ms",
                p50: Self.percentile(lagSamples, 0.5), p99: Self.percentile(lagSamples, 0.99), p99Bound: 50),
            BenchmarkResult(
                name: "server RSS under exchange/create, max over \(seconds) s (swapline serve, every role)", values: [rss.max() ?? 0],
                baselines: nil, goalRatio: nil, goal: "< 300 MiB", unit: "MiB", maximumValue: 300),
            BenchmarkResult(
                name: "server RSS growth, first → last quarter of \(seconds) s (\(String(format: "%.0f", firstQuarter)) → \(String(format: "%.0f", lastQuarter)) MiB)",
                values: [lastQuarter - firstQuarter], baselines: nil, goalRatio: nil, goal: "flat: < 10 % of the first quarter",
                unit: "MiB", maximumValue: firstQuarter * 0.1),
        ]
    }

    /// Waits until every named runner's checkpoint has reached the head (at most 10 minutes).
    func waitUntilCaughtUp(_ runners: [String]) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        for name in runners {
            while try await ProjectionRunner.lag(of: name, client: client, logger: logger).events > 0 {
                guard ContinuousClock.now < deadline else { throw PgBench.Failure(description: "projection \(name) did not catch up in 10 minutes") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

/// What the samplers collect while the load runs, and when to stop.
final class Sampled: Sendable {
    /// Every runner's lag at each sample, ms, in the order of the runners.
    let lags = Mutex<[[Double]]>([])
    /// The server's VmRSS at each sample, MiB.
    let memory = Mutex<[Double]>([])
    let done = Atomic<Bool>(false)
}
