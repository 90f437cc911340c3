import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineBenchmarks
import SwaplineEventStore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Swapline's workloads, each beside PostgreSQL's own figure on the same server (benchmarks/run starts one).",
        discussion: """
            Uses DATABASE_URL (migrated first). Prints a table and writes the figures as JSON. Run the release build on a \
            quiet machine; --quick (short runs, one each) only checks that every workload still works.
            """
    )

    @Flag(help: "One short run per workload: checks the command works, says nothing about speed.")
    var quick = false

    @Option(help: "Seconds per timed run (default 10, or 2 with --quick).")
    var seconds: Int?

    @Option(help: "Runs per figure; the median is reported (default 3, or 1 with --quick).")
    var runs: Int?

    @Option(help: "Concurrent clients of the HTTP workloads.")
    var clients = 32

    @Option(help: "Where the JSON goes (default benchmarks/results/<date>.json).")
    var output: String?

    @Option(help: "The pgbench executable (default: found beside the PostgreSQL installation).")
    var pgbench: String?

    @Option(help: "Run only the workloads whose name contains one of these (comma-separated): append, get, create, webhooks, lifecycle, lag, memory, aggregate, rebuild.")
    var only: String?

    @Option(help: "Events in the long histories of the aggregate and rebuild workloads (default 1000000, or 2000 with --quick).")
    var events: Int?

    @Option(help: "Seconds of create load while the server's memory and projection lag are sampled (default 600, or 3 with --quick).")
    var memorySeconds: Int?

    /// This very executable, started again as `swapline serve` by the workloads that need a server process.
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    func wanted(_ workload: String) -> Bool {
        guard let only else { return true }
        return only.split(separator: ",").contains { workload.contains($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() async throws {
        let settings = try await Runtime.settings()
        var logger = Runtime.logger()
        logger.logLevel = .warning
        guard let pgbenchPath = pgbench ?? PgBench.locate() else {
            throw ValidationError("pgbench not found; install PostgreSQL's client tools or pass --pgbench")
        }
        _ = try await Runtime.migrate(settings, logger: logger)
        let url = settings.databaseURL
        let connection = "postgres://\(url.username)\(url.password.map { ":\($0)" } ?? "")@\(url.host):\(url.port)/\(url.database)"
        let seconds = self.seconds ?? (quick ? 2 : 10)
        let runs = self.runs ?? (quick ? 1 : 3)
        let writers = quick ? [1, 8] : [1, 8, 32]
        var report = BenchmarkReport(quick: quick)
        let configuration = url.clientConfiguration(role: Migrator.applicationRole, maximumConnections: max(40, clients + 8))
        let quiet = Runtime.poolLogger(logger)
        let client = PostgresClient(configuration: configuration, backgroundLogger: quiet)
        let owner = PostgresClient(configuration: url.clientConfiguration(role: nil, maximumConnections: 4), backgroundLogger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask { await owner.run() }
            defer { group.cancelAll() }
            let workloads = Workloads(
                client: client, owner: owner, pgbench: PgBench(executable: pgbenchPath, connection: connection), market: settings.market,
                secrets: settings.masterKey, logger: logger, seconds: seconds, runs: runs, executable: Self.executablePath(),
                cpu: await CPUMeter.locate(client, logger: logger))
            if wanted("append") {
                for count in writers {
                    print("append, \(count) writer(s)…")
                    report.results.append(try await workloads.append(writers: count))
                }
            }
            if wanted("get") {
                print("exchange/get over HTTP, \(clients) clients…")
                report.results.append(try await workloads.exchangeGet(clients: clients))
            }
            if wanted("create") {
                print("exchange/create over HTTP, \(clients) clients…")
                report.results.append(try await workloads.exchangeCreate(clients: clients))
            }
            if wanted("webhooks") {
                print("webhooks, 1 event → 10 subscriptions…")
                report.results += try await workloads.webhookFanOut(subscriptions: 10, exchangesPerRun: quick ? 5 : 1000)
            }
            if wanted("lifecycle") {
                print("exchange lifecycle, create → COMPLETED, \(clients) clients (swapline serve --api --execution)…")
                report.results.append(try await workloads.lifecycle(clients: clients))
            }
            // One run measures both: lag and memory are sampled under the same create load.
            if wanted("lag") || wanted("memory") {
                let memorySeconds = self.memorySeconds ?? (quick ? 3 : 600)
                print("projection lag and server memory under exchange/create, \(clients) clients, \(memorySeconds) s (swapline serve)…")
                report.results += try await workloads.serverUnderCreateLoad(clients: clients, seconds: memorySeconds)
            }
            // Last: these two write long histories, which every later reader of the whole table would walk.
            let events = self.events ?? (quick ? 2_000 : 1_000_000)
            if wanted("aggregate") {
                print("account aggregate load after \(events) events…")
                report.results += try await workloads.aggregateLoad(events: events)
            }
            if wanted("rebuild") {
                print("projection rebuild over \(events) exchange events…")
                report.results.append(try await workloads.projectionRebuild(events: events))
            }
        }
        print()
        print(report.table())
        print()
        print("CPU per operation (busy: share of the machine's cores; rest: the bench process, a server it started, pgbench, the kernel):")
        print(report.cpuTable())
        let day = String(report.date.prefix(10))
        let file = URL(fileURLWithPath: output ?? "benchmarks/results/\(day)\(quick ? "-quick" : "").json")
        try report.write(to: file)
        print()
        print("wrote \(file.path)")
    }
}
