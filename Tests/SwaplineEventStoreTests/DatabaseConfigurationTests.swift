import PostgresNIO
import Synchronization
import SwaplineTestSupport
import Testing

@testable import SwaplineEventStore

@Suite("Database configuration")
struct DatabaseConfigurationTests {
    /// Each returned connection starts both timers, and a cancelled timer holds its memory until
    /// its deadline: long ones made a busy server grow (see `clientConfiguration`).
    @Test func poolTimersAreShortSoCancelledOnesDoNotPileUp() throws {
        let url = try DatabaseURL("postgres://swapline@127.0.0.1:5432/swapline")
        let configuration = url.clientConfiguration(maximumConnections: 12)
        #expect(configuration.options.maximumConnections == 12)
        #expect(configuration.options.keepAliveBehavior == nil)
        #expect(configuration.options.connectionIdleTimeout == .seconds(10))
    }

    /// With PostgresNIO's keep-alive on, `run()` sometimes never returned after its task was
    /// cancelled (4 in 500 rounds like these, keep-alive every 5–60 ms), which hung a process at
    /// exit. Our configuration, with idle connections closing as fast as possible, must always end.
    @Test func aCancelledClientAlwaysStopsRunning() async throws {
        let url = try TestDatabase.serverURL
        var stuck: [Int] = []
        for round in 0..<60 {
            var configuration = url.clientConfiguration(maximumConnections: 8)
            configuration.options.connectionIdleTimeout = .milliseconds(Int64.random(in: 5...80))
            let client = PostgresClient(configuration: configuration, backgroundLogger: TestDatabase.logger)
            let returned = Mutex(false)
            let runner = Task {
                await client.run()
                returned.withLock { $0 = true }
            }
            // Several connections at once, so some are idle, closing or busy when it is cancelled.
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<Int.random(in: 1...8) {
                    group.addTask { _ = try? await client.query("SELECT 1", logger: TestDatabase.logger).collect() }
                }
            }
            // Cancelled at a random moment, while idle timers are set, firing or closing connections.
            try await Task.sleep(for: .milliseconds(Int64.random(in: 0...100)))
            runner.cancel()
            let deadline = ContinuousClock.now + .seconds(10)
            while !returned.withLock({ $0 }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            if !returned.withLock({ $0 }) { stuck.append(round) }
        }
        #expect(stuck.isEmpty, "run() did not return within 10 s of cancellation in rounds \(stuck)")
    }
}
