import Foundation

/// What one timed run measured: how many operations finished and how long each took.
public struct Sample: Sendable {
    public var operations: Int
    public var seconds: Double
    /// Latencies in milliseconds, sorted.
    public var latencies: [Double]
    public var errors: Int
    /// What the first failed operation threw, to tell why a run failed.
    public var firstError: String? = nil

    public var rate: Double { seconds > 0 ? Double(operations) / seconds : 0 }

    public func percentile(_ fraction: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        let index = min(latencies.count - 1, max(0, Int((Double(latencies.count) * fraction).rounded(.up)) - 1))
        return latencies[index]
    }
}

/// Runs `operation` in `concurrency` loops for `duration`, each loop calling it back to back,
/// the way a fixed pool of clients loads a server (closed loop).
public enum LoadRun {
    public static func closedLoop(
        concurrency: Int, duration: Duration, _ operation: @escaping @Sendable (_ client: Int) async throws -> Void
    ) async -> Sample {
        let start = ContinuousClock.now
        let deadline = start + duration
        let perClient = await withTaskGroup(of: ([Double], Int, String?).self) { group in
            for client in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    var errors = 0
                    var firstError: String?
                    while ContinuousClock.now < deadline {
                        let began = ContinuousClock.now
                        do {
                            try await operation(client)
                            latencies.append(milliseconds(ContinuousClock.now - began))
                        } catch {
                            errors += 1
                            if firstError == nil { firstError = String(describing: error) }
                            if errors > 1000 { break }
                        }
                    }
                    return (latencies, errors, firstError)
                }
            }
            var all: [([Double], Int, String?)] = []
            for await result in group { all.append(result) }
            return all
        }
        let seconds = milliseconds(ContinuousClock.now - start) / 1000
        let latencies = perClient.flatMap(\.0).sorted()
        return Sample(
            operations: latencies.count, seconds: seconds, latencies: latencies, errors: perClient.map(\.1).reduce(0, +),
            firstError: perClient.lazy.compactMap(\.2).first)
    }

    public static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
