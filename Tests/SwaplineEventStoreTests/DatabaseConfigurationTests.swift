import PostgresNIO
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
        #expect(configuration.options.keepAliveBehavior?.frequency == .seconds(5))
        #expect(configuration.options.connectionIdleTimeout == .seconds(10))
    }
}
