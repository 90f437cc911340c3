import Foundation
import Logging
import PostgresNIO

/// Where the machine's CPU went during a run, per operation: PostgreSQL's processes against
/// everything else (the bench process with its in-process server and load generator, a
/// `swapline serve` it started, pgbench, the kernel's interrupts).
///
/// Every workload here shares the machine's cores among the load, the server and PostgreSQL, so
/// when the cores are busy a ratio is set by CPU per operation. Measured beside the baseline,
/// it tells which side a gap is on: PostgreSQL's own work for the statements sent, or ours.
public struct CPUPerOperation: Codable, Sendable, Equatable {
    /// Microseconds of CPU per operation in PostgreSQL's processes; nil when the server is not
    /// on this machine.
    public var postgres: Double?
    /// Microseconds of CPU per operation in everything else.
    public var rest: Double
    /// How busy the machine's cores were over the run, from 0 to 1.
    public var busy: Double

    public init(postgres: Double?, rest: Double, busy: Double) {
        self.postgres = postgres
        self.rest = rest
        self.busy = busy
    }
}

/// Reads `/proc`: the machine's busy time, and PostgreSQL's (its postmaster with the children
/// it has reaped, and the children alive).
public struct CPUMeter: Sendable {
    /// The postmaster's process id; nil when the server is not on this machine.
    public let postmaster: Int32?
    let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)

    public init(postmaster: Int32?) {
        self.postmaster = postmaster
    }

    /// Finds the postmaster as the parent of one of `client`'s backends, if it runs here.
    public static func locate(_ client: PostgresClient, logger: Logger) async -> CPUMeter {
        do {
            for try await backend in try await client.query("SELECT pg_backend_pid()", logger: logger).decode(Int32.self) {
                return CPUMeter(postmaster: ProcessStat.read(backend).map(\.parent))
            }
        } catch {
            logger.warning("the database server's CPU will not be measured", metadata: ["error": "\(error)"])
        }
        return CPUMeter(postmaster: nil)
    }

    struct Reading {
        var busyTicks: Int64
        var postgresTicks: Int64?
        var backends: Set<Int32>
        var at: ContinuousClock.Instant
    }

    func read() -> Reading? {
        guard let busy = Self.machineBusyTicks() else { return nil }
        let postgres = postmaster.flatMap(Self.postgresTicks)
        return Reading(busyTicks: busy, postgresTicks: postgres?.ticks, backends: postgres?.children ?? [], at: .now)
    }

    /// Runs `body` and divides the CPU spent meanwhile by the operations it reports.
    ///
    /// `settling`: for a client that has exited (pgbench), wait (up to two seconds) for the
    /// backends it opened to end and be reaped, so that their time is in the postmaster's count.
    public func measure<T>(settling: Bool = false, _ body: () async throws -> T, operations: (T) -> Double) async rethrows
        -> (T, CPUPerOperation?)
    {
        let before = read()
        let result = try await body()
        guard let before else { return (result, nil) }
        var after = read()
        if settling, let postmaster, var reading = after {
            // An ended backend leaves the process list a little before its time shows in the
            // postmaster's count of reaped children (up to ~100 ms seen), so wait until no new
            // backend is left and the count has held still for 100 ms.
            let deadline = ContinuousClock.now + .seconds(2)
            var stillSince = ContinuousClock.now
            while ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
                guard let settled = Self.postgresTicks(postmaster) else { break }
                if settled.ticks != reading.postgresTicks || !settled.children.isSubset(of: before.backends) { stillSince = .now }
                // The machine's busy time and the clock stay where the body left them; only
                // PostgreSQL's count catches up.
                reading.postgresTicks = settled.ticks
                reading.backends = settled.children
                if stillSince.duration(to: .now) >= .milliseconds(100) { break }
            }
            after = reading
        }
        guard let after else { return (result, nil) }
        let count = operations(result)
        let seconds = LoadRun.milliseconds(after.at - before.at) / 1000
        guard count > 0, seconds > 0 else { return (result, nil) }
        let busy = Double(after.busyTicks - before.busyTicks) / ticksPerSecond
        let postgres: Double? =
            if let first = before.postgresTicks, let last = after.postgresTicks { Double(last - first) / ticksPerSecond } else { nil }
        return (
            result,
            CPUPerOperation(
                // Clamped: the machine's count and the processes' are sampled apart, a few ticks out.
                postgres: postgres.map { max(0, $0) * 1e6 / count }, rest: max(0, busy - (postgres ?? 0)) * 1e6 / count,
                busy: min(1, busy / (seconds * cores)))
        )
    }

    /// user + nice + system + irq + softirq + steal of the machine (`/proc/stat`'s first line).
    static func machineBusyTicks() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Int64($0) }
        guard fields.count >= 8 else { return nil }
        return fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    }

    /// The postmaster's own time and its reaped children's, plus its live children's.
    static func postgresTicks(_ postmaster: Int32) -> (ticks: Int64, children: Set<Int32>)? {
        guard let server = ProcessStat.read(postmaster) else { return nil }
        var ticks = server.ownTicks + server.reapedChildrenTicks
        var children: Set<Int32> = []
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in processes {
            guard let pid = Int32(name), let stat = ProcessStat.read(pid), stat.parent == postmaster else { continue }
            ticks += stat.ownTicks
            children.insert(pid)
        }
        return (ticks, children)
    }
}

/// The fields of `/proc/<pid>/stat` the meter needs.
struct ProcessStat {
    var parent: Int32
    var ownTicks: Int64
    var reapedChildrenTicks: Int64

    static func read(_ pid: Int32) -> ProcessStat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state is field 3, so field n is at n - 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]), let utime = Int64(fields[11]), let stime = Int64(fields[12]),
            let cutime = Int64(fields[13]), let cstime = Int64(fields[14])
        else { return nil }
        return ProcessStat(parent: parent, ownTicks: utime + stime, reapedChildrenTicks: cutime + cstime)
    }
}
