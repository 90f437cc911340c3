import Foundation
import SwaplineAPI
import SwaplineApplication
import SwaplineEventStore
import SwaplineTestSupport
import Testing

/// Runs the built `swapline` executable the way an operator's script does.
@Suite("swapline CLI")
struct CLITests {
    func swapline(_ arguments: [String], database: TestDatabase, environment: [String: String] = [:]) throws -> CommandRun {
        try SwaplineExecutable.run(arguments, database: database, environment: environment)
    }

    @Test func accountsCanBeCreatedFundedShownAndTheirKeysManaged() async throws {
        try #require(SwaplineExecutable.isBuilt, "build the swapline product first")
        try await TestDatabase.with { database in
            #expect(try swapline(["migrate"], database: database).output.contains("up to date"))

            let created = try swapline(["accounts", "create", "--name", "Acme", "--json"], database: database)
            #expect(created.status == 0, "\(created.errors)")
            guard case .string(let account)? = created.json?["account"], case .string(let key)? = created.json?["key"],
                case .string? = created.json?["secret"]
            else {
                Issue.record("create printed \(created.output)")
                return
            }
            #expect(account.hasPrefix("0x") && account.count == 42)

            let deposit = try swapline(["accounts", "deposit", "--account", account, "--currency", "BTC", "--amount", "0.5", "--json"], database: database)
            #expect(deposit.status == 0, "\(deposit.errors)")
            let shown = try swapline(["accounts", "show", "--account", account, "--json"], database: database)
            guard case .array(let balances)? = shown.json?["balances"] else {
                Issue.record("show printed \(shown.output)")
                return
            }
            #expect(balances.first { $0["currency"] == .string("BTC") }?["amount"] == .number("0.50000000"))

            // The one strict amount parser serves the CLI too.
            let bad = try swapline(["accounts", "deposit", "--account", account, "--currency", "BTC", "--amount", "1e3"], database: database)
            #expect(bad.status != 0)
            #expect(bad.errors.contains("amount"))
            let overdraw = try swapline(["accounts", "withdraw", "--account", account, "--currency", "BTC", "--amount", "1"], database: database)
            #expect(overdraw.status != 0)

            let rotated = try swapline(["accounts", "keys", "rotate", "--account", account, "--json"], database: database)
            guard case .string(let newKey)? = rotated.json?["key"] else {
                Issue.record("rotate printed \(rotated.output)")
                return
            }
            #expect(newKey != key)
            #expect(try swapline(["accounts", "keys", "revoke", "--key", key], database: database).status == 0)
            #expect(try swapline(["accounts", "keys", "revoke", "--key", key], database: database).status != 0)
        }
    }

    /// PostgresNIO's errors describe themselves generically (no queries or values in logs); a
    /// failed command prints PostgreSQL's own message and SQLSTATE instead.
    @Test func aDatabaseErrorSaysWhatPostgreSQLSaid() async throws {
        try #require(SwaplineExecutable.isBuilt, "build the swapline product first")
        try await TestDatabase.with { database in
            // The schema as shipped, and one more migration that cannot run.
            let schema = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-schema-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: TestDatabase.schemaDirectory, to: schema)
            defer { try? FileManager.default.removeItem(at: schema) }
            try "SELECT * FROM swapline_no_such_table;\n".write(
                to: schema.appendingPathComponent("9999_broken.sql"), atomically: true, encoding: .utf8)
            let run = try swapline(["migrate"], database: database, environment: ["SWAPLINE_SCHEMA_DIR": schema.path])
            #expect(run.status != 0)
            #expect(run.errors.contains("relation \"swapline_no_such_table\" does not exist"), "\(run.errors)")
            #expect(run.errors.contains("[SQLSTATE 42P01]"), "\(run.errors)")
            #expect(!run.errors.contains("Generic description"), "\(run.errors)")
        }
    }
}

extension CommandRun {
    var json: JSONValue? { try? JSONParser.parse(Array(output.utf8)) }
}
