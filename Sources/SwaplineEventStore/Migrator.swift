import Foundation
import Logging
import PostgresNIO

/// Applies the ordered SQL files in `schema/` that the database has not seen yet, each in its own
/// transaction, recording them in `schema_migrations`. Safe to run concurrently and repeatedly.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public var name: String
        public var sql: String

        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    public let migrations: [Migration]

    /// Roles are cluster-wide and created idempotently; rights on objects are granted per database.
    public static let applicationRole = "swapline_app"
    /// Reads the read-model schema only.
    public static let analystRole = "swapline_analyst"
    /// Reads the events and the read models.
    public static let auditorRole = "swapline_auditor"

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.name < $1.name }
    }

    /// Loads every `*.sql` file of a folder, ordered by name.
    public init(directory: URL) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        self.init(
            migrations: try names.map { name in
                Migration(name: name, sql: try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
            }
        )
    }

    /// Finds `schema/`: `SWAPLINE_SCHEMA_DIR` if set, else the working directory and the folders
    /// above the executable (so `swift run`, tests and an installed copy beside `schema/` all work).
    public static func locateSchemaDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let explicit = environment["SWAPLINE_SCHEMA_DIR"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        for candidate in candidates {
            let schema = candidate.appendingPathComponent("schema")
            if FileManager.default.fileExists(atPath: schema.appendingPathComponent("0001_event_store.sql").path) {
                return schema
            }
        }
        return nil
    }

    /// Applies what is missing; returns the names applied now.
    @discardableResult
    public func migrate(client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withConnection { connection in
            // One migrator at a time per database; the others wait and then find nothing to do.
            try await connection.query("SELECT pg_advisory_lock(7120001)", logger: logger)
            do {
                let applied = try await apply(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(7120001)", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(7120001)", logger: logger)
                throw error
            }
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await Self.createRoles(on: connection, logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        // The runtime reads it to say whether it is ready (its migrations applied).
        try await connection.query("GRANT SELECT ON schema_migrations TO swapline_app", logger: logger)
        var done = Set<String>()
        for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
            done.insert(name)
        }
        var appliedNow: [String] = []
        for migration in migrations where !done.contains(migration.name) {
            logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
            try await connection.withTransaction(logger: logger) { connection in
                for statement in SQLStatements.split(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
            appliedNow.append(migration.name)
        }
        return appliedNow
    }

    /// The names of migrations known to this build that the database has not applied.
    public func pending(client: PostgresClient, logger: Logger) async throws -> [String] {
        let exists = try await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            .decode(Bool.self).first { _ in true } ?? false
        guard exists else { return migrations.map(\.name) }
        var done = Set<String>()
        for try await name in try await client.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
            done.insert(name)
        }
        return migrations.map(\.name).filter { !done.contains($0) }
    }

    static func createRoles(on connection: PostgresConnection, logger: Logger) async throws {
        // Two databases migrating at once may both try to create the role; the loser's duplicate is fine.
        for role in [applicationRole, analystRole, auditorRole] {
            try await connection.query(
                """
                DO $$
                BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(unescaped: role)') THEN
                        CREATE ROLE \(unescaped: role) NOLOGIN;
                    END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END
                $$
                """,
                logger: logger
            )
        }
        // The owner must be able to SET ROLE to it when it is not a superuser.
        try await connection.query(
            """
            DO $$
            BEGIN
                IF NOT pg_has_role(current_user, 'swapline_app', 'MEMBER') THEN
                    EXECUTE format('GRANT swapline_app TO %I', current_user);
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END
            $$
            """,
            logger: logger
        )
    }
}

/// Splits a migration file into statements, since the extended query protocol takes one at a
/// time. Understands quotes, dollar quotes and comments, which is all our schema files use.
enum SQLStatements {
    static func split(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let characters = Array(sql)
        var index = 0
        func peek(_ offset: Int) -> Character? {
            index + offset < characters.count ? characters[index + offset] : nil
        }
        while index < characters.count {
            let character = characters[index]
            if character == "-" && peek(1) == "-" {
                while index < characters.count && characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "/" && peek(1) == "*" {
                index += 2
                while index < characters.count && !(characters[index] == "*" && peek(1) == "/") { index += 1 }
                index += 2
                continue
            }
            if character == "'" || character == "\"" {
                current.append(character)
                index += 1
                while index < characters.count {
                    current.append(characters[index])
                    if characters[index] == character {
                        if peek(1) == character {
                            index += 1
                            current.append(characters[index])
                        } else {
                            break
                        }
                    }
                    index += 1
                }
                index += 1
                continue
            }
            if character == "$" {
                // A dollar-quote tag: $$ or $name$.
                var end = index + 1
                while end < characters.count && (characters[end].isLetter || characters[end].isNumber || characters[end] == "_") {
                    end += 1
                }
                if end < characters.count && characters[end] == "$" {
                    let tag = String(characters[index...end])
                    current += tag
                    index = end + 1
                    let rest = String(characters[index...])
                    if let range = rest.range(of: tag) {
                        let body = rest[..<range.upperBound]
                        current += body
                        index += body.count
                    } else {
                        current += rest
                        index = characters.count
                    }
                    continue
                }
            }
            if character == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
                index += 1
                continue
            }
            current.append(character)
            index += 1
        }
        let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !statement.isEmpty { statements.append(statement) }
        return statements
    }
}
