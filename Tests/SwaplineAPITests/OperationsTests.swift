import Foundation
import Hummingbird
import HummingbirdTesting
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineTestSupport
import Testing

@Suite("Health and readiness against PostgreSQL")
struct OperationsTests {
    func status(_ router: Router<BasicRequestContext>, _ path: String) async throws -> (Int, String) {
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                (Int(response.status.code), String(buffer: response.body))
            }
        }
    }

    @Test func readyWhenTheDatabaseHasEveryMigrationAndNotOtherwise() async throws {
        try await TestDatabase.with { database in
            let logger = database.logger
            let accounts = AccountService(client: database.app, secrets: APIHarness.masterKey, market: .defaults, logger: logger)
            let exchanges = ExchangeService(client: database.app, market: .defaults, logger: logger)
            let current = try Migrator(directory: TestDatabase.schemaDirectory)
            let newer = Migrator(migrations: current.migrations + [.init(name: "9999_future.sql", sql: "SELECT 1")])

            let ready = buildRouter(
                APIDependencies(
                    accounts: accounts, exchanges: exchanges,
                    readiness: { await Readiness.problem(client: database.app, migrator: current, logger: logger, timeout: .seconds(60)) }))
            let (readyStatus, readyBody) = try await status(ready, "/ready")
            #expect(readyStatus == 200)
            #expect(readyBody.contains("ready"))

            let behind = buildRouter(
                APIDependencies(
                    accounts: accounts, exchanges: exchanges,
                    readiness: { await Readiness.problem(client: database.app, migrator: newer, logger: logger, timeout: .seconds(60)) }))
            let (behindStatus, behindBody) = try await status(behind, "/ready")
            #expect(behindStatus == 503)
            #expect(behindBody.contains("9999_future.sql"))

            let (healthStatus, _) = try await status(ready, "/health")
            #expect(healthStatus == 200)
        }
    }
}
