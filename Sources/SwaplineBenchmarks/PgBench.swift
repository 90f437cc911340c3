import Foundation

/// PostgreSQL's own load generator, run with a script on the same server: the baseline every
/// database-bound figure is divided by, measured in the same run because these machines' disks
/// change speed from one minute to the next.
public struct PgBench: Sendable {
    public let executable: String
    /// A libpq connection string (`postgres://…`).
    public let connection: String

    public init(executable: String, connection: String) {
        self.executable = executable
        self.connection = connection
    }

    /// Finds pgbench beside the newest PostgreSQL installation, or on the PATH.
    public static func locate() -> String? {
        let fileManager = FileManager.default
        var candidates: [String] = []
        if let versions = try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                candidates.append("/usr/lib/postgresql/\(version)/bin/pgbench")
            }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/pgbench")
        }
        return candidates.first { fileManager.isExecutableFile(atPath: $0) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// What one pgbench run did: its rate, and each transaction's latency (ms, sorted) from
    /// pgbench's per-transaction log, so a workload's p50/p99 has the baseline's beside it.
    public struct Outcome: Sendable {
        public var transactionsPerSecond: Double
        public var latencies: [Double]

        /// The run whose rate is the median of `outcomes`' (the upper one of an even count).
        static func median(_ outcomes: [Outcome]) -> Outcome? {
            let sorted = outcomes.sorted { $0.transactionsPerSecond < $1.transactionsPerSecond }
            return sorted.isEmpty ? nil : sorted[sorted.count / 2]
        }
    }

    /// Runs `script` with `clients` connections for `seconds`.
    public func run(script: String, clients: Int, seconds: Int) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-pgbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("script.sql")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let arguments = [
            executable, "-n", "-f", file.path, "-c", String(clients), "-j", String(min(clients, ProcessInfo.processInfo.activeProcessorCount)),
            "-T", String(seconds), "-M", "prepared", "--log", "--log-prefix=\(directory.appendingPathComponent("log").path)", connection,
        ]
        let (status, text) = try Subprocess.run(arguments)
        guard status == 0 else { throw Failure(description: "pgbench failed (\(status)): \(text.suffix(2000))") }
        // "tps = 1234.56 (without initial connection time)"
        for line in text.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = Double(line.dropFirst("tps = ".count).prefix { $0 != " " }) {
                return Outcome(transactionsPerSecond: value, latencies: try Self.latencies(in: directory))
            }
        }
        throw Failure(description: "no tps in pgbench output: \(text.suffix(2000))")
    }

    /// The latencies (ms, sorted) in pgbench's per-transaction logs (`log.<pid>`, one file per
    /// thread), whose lines are `client transaction latency_us script epoch_s epoch_us`.
    static func latencies(in directory: URL) throws -> [Double] {
        var latencies: [Double] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasPrefix("log.") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count >= 3, let microseconds = Double(fields[2]) { latencies.append(microseconds / 1000) }
            }
        }
        return latencies.sorted()
    }

    /// psql beside pgbench (the same PostgreSQL installation).
    var psql: String {
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("psql").path
    }

    /// Rows per second of `COPY (query) TO STDOUT` (one line of SQL), read by psql and thrown away (`\copy … to
    /// '/dev/null'` writes on the client side): PostgreSQL producing and sending those rows, with
    /// no parsing and no work on them. (A server-side `COPY … TO '/dev/null'` would need superuser
    /// or pg_write_server_files, which the runtime role rightly lacks.)
    public func copyRate(query: String) throws -> Double {
        let started = ContinuousClock.now
        let (status, text) = try Subprocess.run([psql, "-X", "-v", "ON_ERROR_STOP=1", "-c", "\\copy (\(query)) to '/dev/null'", connection])
        let seconds = LoadRun.milliseconds(ContinuousClock.now - started) / 1000
        guard status == 0 else { throw Failure(description: "psql \\copy failed (\(status)): \(text.suffix(2000))") }
        // "COPY 1000000"
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("COPY ") }), let rows = Double(line.dropFirst("COPY ".count)) else {
            throw Failure(description: "no row count in psql's output: \(text.suffix(2000))")
        }
        return rows / seconds
    }
}
