import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let (status, text) = try Self.spawn(arguments)
        guard status == 0 else { throw Failure(description: "pgbench failed (\(status)): \(text.suffix(2000))") }
        // "tps = 1234.56 (without initial connection time)"
        for line in text.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = Double(line.dropFirst("tps = ".count).prefix { $0 != " " }) { return value }
        }
        throw Failure(description: "no tps in pgbench output: \(text.suffix(2000))")
    }

    /// Runs a program and returns its exit status and output. Not `Process`: a child inherits
    /// the spawning thread's signal mask, and Swift's threads block SIGALRM, which pgbench's
    /// `-T` needs to stop; here the child starts with no signal blocked and default handlers.
    static func spawn(_ arguments: [String]) throws -> (Int32, String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-bench-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var environment: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in environment { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, &environment)
        guard spawned == 0 else { throw Failure(description: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS by hand: the macros are not imported.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, output)
    }
}
