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

    /// Runs `script` with `clients` connections for `seconds`; returns transactions per second.
    public func run(script: String, clients: Int, seconds: Int) throws -> Double {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-bench-\(UUID().uuidString).sql")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let arguments = [
            executable, "-n", "-f", file.path, "-c", String(clients), "-j", String(min(clients, ProcessInfo.processInfo.activeProcessorCount)),
            "-T", String(seconds), "-M", "prepared", connection,
        ]
        let (status, text) = try Subprocess.run(arguments)
        guard status == 0 else { throw Failure(description: "pgbench failed (\(status)): \(text.suffix(2000))") }
        // "tps = 1234.56 (without initial connection time)"
        for line in text.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = Double(line.dropFirst("tps = ".count).prefix { $0 != " " }) { return value }
        }
        throw Failure(description: "no tps in pgbench output: \(text.suffix(2000))")
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
