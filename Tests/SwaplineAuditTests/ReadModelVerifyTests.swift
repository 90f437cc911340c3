import Foundation
import PostgresNIO
import SwaplineAudit
import SwaplineDomain
import SwaplineProjections
import SwaplineTestSupport
import Testing

@Suite("audit verify recomputes the read models")
struct ReadModelVerifyTests {
    @Test func readModelsThatMatchTheEventsAreClean() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            _ = try await harness.buildHistory()
            let audit = AuditLog(client: database.app, logger: database.logger, projections: ReadModelVerifiers.all)
            let findings = try await audit.verify().findings
            #expect(findings == [])
        }
    }

    @Test func aReadModelRowAlteredByHandIsNamed() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let audit = AuditLog(client: database.app, logger: database.logger, projections: ReadModelVerifiers.all)
            try await database.owner.query("UPDATE read.exchanges SET state = 'COMPLETED' WHERE id = \(history.failed.id)")
            try await database.owner.query(
                "UPDATE read.balances SET available = available + 1 WHERE account_id = \(history.account.rawValue) AND currency = 'USDT_TRX'")
            try await database.owner.query("DELETE FROM read.exchanges WHERE id = \(history.completed.id)")
            let findings = try await audit.verify().findings
            let fields = Set(findings.map { "\($0.streamId) \($0.field)" })
            #expect(fields.contains("\(history.failedStream) read.exchanges.state"))
            #expect(fields.contains("\(history.accountStream) read.balances.USDT_TRX.available"))
            #expect(fields.contains("\(history.completedStream) read.exchanges"))
            #expect(findings.count == 3)
        }
    }

    @Test func theRunnersStatisticsAreRecomputedUpToItsCheckpoint() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let audit = AuditLog(client: database.app, logger: database.logger, projections: ReadModelVerifiers.all)
            // Behind or caught up, the statistics match the events the runner has applied.
            #expect(try await audit.verify().findings == [])
            let runner = ProjectionRunner(projection: ExchangeStatistics(), client: database.app, logger: database.logger, batchSize: 3)
            _ = try await runner.runOnce()
            #expect(try await audit.verify().findings == [])
            while try await runner.runOnce() > 0 {}
            #expect(try await audit.verify().findings == [])

            try await database.owner.query(
                "UPDATE read.exchange_daily SET fees = fees + 1 WHERE account_id = \(history.account.rawValue)")
            try await database.owner.query("DELETE FROM read.exchange_failures")
            let findings = try await audit.verify().findings
            let streams = findings.map(\.streamId).sorted()
            #expect(streams == ["read.exchange_daily", "read.exchange_failures"])
        }
    }
}
