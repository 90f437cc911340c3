import PostgresNIO
import SwaplineEventStore
import SwaplineTestSupport
import Testing

@Suite("Analyst and auditor roles")
struct DatabaseRoleTests {
    /// Runs `statement` as `role` (the owner is a superuser on the test cluster and may SET ROLE).
    func run(_ statement: String, as role: String, _ database: TestDatabase) async throws {
        try await database.owner.withTransaction(logger: database.logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(role)"), logger: database.logger)
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: database.logger)
        }
    }

    @Test func analystsReadTheReadModelsOnly() async throws {
        try await TestDatabase.with { database in
            try await run("SELECT count(*) FROM read.exchanges", as: Migrator.analystRole, database)
            try await run("SELECT count(*) FROM read.balances", as: Migrator.analystRole, database)
            for refused in [
                "SELECT count(*) FROM events", "SELECT count(*) FROM stream_heads", "SELECT count(*) FROM api_keys",
                "INSERT INTO read.balances VALUES ('x', 'BTC', 1, 0, now())", "DELETE FROM read.exchanges",
            ] {
                await #expect(throws: (any Error).self, "\(refused)") { try await run(refused, as: Migrator.analystRole, database) }
            }
        }
    }

    @Test func auditorsReadEventsAndReadModelsAndWriteNothing() async throws {
        try await TestDatabase.with { database in
            for allowed in ["SELECT count(*) FROM events", "SELECT count(*) FROM stream_heads", "SELECT count(*) FROM read.exchanges"] {
                try await run(allowed, as: Migrator.auditorRole, database)
            }
            for refused in [
                "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, prev_hash, hash) VALUES ('s', 1, gen_random_uuid(), 'X', '{}', '', '')",
                "UPDATE read.balances SET held = 0", "SELECT count(*) FROM api_keys",
            ] {
                await #expect(throws: (any Error).self, "\(refused)") { try await run(refused, as: Migrator.auditorRole, database) }
            }
        }
    }
}
