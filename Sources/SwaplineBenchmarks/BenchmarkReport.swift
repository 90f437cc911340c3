import Foundation

/// One workload's figure against its baseline: the median of the runs, with their spread.
public struct BenchmarkResult: Codable, Sendable {
    public var name: String
    public var value: Double
    public var baseline: Double?
    public var ratio: Double?
    /// The issue's goal, as text (`>= 0.8x`, `p99 < 50 ms`).
    public var goal: String
    public var unit: String
    public var min: Double
    public var max: Double
    public var runs: Int
    public var p50: Double?
    public var p99: Double?
    public var baselineMin: Double?
    public var baselineMax: Double?
    /// The baseline's own latencies (pgbench's per-transaction log, the median run), beside `p50`/`p99`.
    public var baselineP50: Double?
    public var baselineP99: Double?
    /// Whether the goal is met, when the goal is a ratio, a bound on the value or a latency bound.
    public var met: Bool?
    /// True when a smaller value is the better one (a load time, a lag, memory): the goal bounds
    /// the value or the ratio from above, or only the p99 is bounded.
    public var lowerIsBetter: Bool
    /// CPU per operation in the last run, and in its baseline (`CPUMeter`), where measured.
    public var cpu: CPUPerOperation?
    public var baselineCPU: CPUPerOperation?

    /// - Parameters:
    ///   - goalRatio: the goal is `ratio >= goalRatio` (higher is better).
    ///   - maximumRatio: the goal is `ratio < maximumRatio` (lower is better: a time against the baseline's time).
    ///   - minimumValue: the value itself must be at least this (an absolute floor, e.g. events/s).
    ///   - maximumValue: the value itself must stay below this (an absolute ceiling, e.g. MiB).
    ///   - baselineLatencies: the baseline's latencies (ms, sorted), for its p50/p99.
    ///   - p99Bound: the p99 must stay below this (ms).
    ///   - lowerIsBetter: says so for a figure with no goal to tell (by default, from the bounds above).
    public init(
        name: String, values: [Double], baselines: [Double]?, goalRatio: Double?, goal: String, unit: String, p50: Double? = nil,
        p99: Double? = nil, baselineLatencies: [Double]? = nil, p99Bound: Double? = nil, maximumRatio: Double? = nil, minimumValue: Double? = nil, maximumValue: Double? = nil,
        lowerIsBetter: Bool? = nil
    ) {
        self.name = name
        let value = Self.median(values)
        self.value = value
        self.min = values.min() ?? 0
        self.max = values.max() ?? 0
        self.runs = values.count
        self.goal = goal
        self.unit = unit
        self.p50 = p50
        self.p99 = p99
        if let baselineLatencies {
            let sample = Sample(operations: baselineLatencies.count, seconds: 0, latencies: baselineLatencies, errors: 0)
            self.baselineP50 = sample.percentile(0.5)
            self.baselineP99 = sample.percentile(0.99)
        }
        if let baselines, !baselines.isEmpty {
            let baseline = Self.median(baselines)
            self.baseline = baseline
            self.baselineMin = baselines.min()
            self.baselineMax = baselines.max()
            self.ratio = baseline > 0 ? value / baseline : nil
        }
        var met: Bool?
        func require(_ condition: Bool) { met = (met ?? true) && condition }
        if let goalRatio { require(ratio.map { $0 >= goalRatio } ?? false) }
        if let maximumRatio { require(ratio.map { $0 < maximumRatio } ?? false) }
        if let minimumValue { require(value >= minimumValue) }
        if let maximumValue { require(value < maximumValue) }
        if let p99Bound, let p99 { require(p99 < p99Bound) }
        self.met = met
        self.lowerIsBetter =
            lowerIsBetter ?? (maximumRatio != nil || maximumValue != nil || (goalRatio == nil && minimumValue == nil && p99Bound != nil))
    }

    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// The run's results: a table for people and a JSON file for tools and the next run.
public struct BenchmarkReport: Codable, Sendable {
    public var date: String
    public var machine: String
    public var quick: Bool
    public var results: [BenchmarkResult]

    public init(quick: Bool, results: [BenchmarkResult] = []) {
        let formatter = ISO8601DateFormatter()
        self.date = formatter.string(from: Date())
        self.machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / (1 << 30)) GiB, \(ProcessInfo.processInfo.operatingSystemVersionString)"
        self.quick = quick
        self.results = results
    }

    public func table() -> String {
        func number(_ value: Double?) -> String {
            guard let value else { return "—" }
            return value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
        }
        var lines = [
            "| workload | value | baseline | ratio | goal | met | p50 ms | p99 ms | baseline p50 / p99 ms | runs (min–max) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for result in results {
            let met = result.met.map { $0 ? "yes" : "no" } ?? "—"
            let goal = result.lowerIsBetter && !result.goal.contains("lower is better") ? "\(result.goal) (lower is better)" : result.goal
            lines.append(
                "| \(result.name) | \(number(result.value)) \(result.unit) | \(number(result.baseline)) | \(result.ratio.map { String(format: "%.2f×", $0) } ?? "—") | \(goal) | \(met) | \(number(result.p50)) | \(number(result.p99)) | \(result.baselineP99 == nil ? "—" : "\(number(result.baselineP50)) / \(number(result.baselineP99))") | \(result.runs) (\(number(result.min))–\(number(result.max))) |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// Where the CPU went, per operation, for the workloads whose runs were metered.
    public func cpuTable() -> String {
        func microseconds(_ value: Double?) -> String { value.map { String(format: "%.0f", $0) } ?? "—" }
        func cells(_ cpu: CPUPerOperation?) -> String {
            guard let cpu else { return "— | — | —" }
            return "\(String(format: "%.0f %%", cpu.busy * 100)) | \(microseconds(cpu.postgres)) | \(microseconds(cpu.rest))"
        }
        var lines = [
            "| workload (last run) | busy | µs/op PostgreSQL | µs/op rest | baseline busy | baseline µs/op PostgreSQL | baseline µs/op rest |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for result in results where result.cpu != nil || result.baselineCPU != nil {
            lines.append("| \(result.name) | \(cells(result.cpu)) | \(cells(result.baselineCPU)) |")
        }
        return lines.joined(separator: "\n")
    }

    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(self).write(to: url)
    }
}
