import Foundation
import Logging
import PostgresNIO
import SwaplineEventStore

/// A fresh, migrated PostgreSQL database for one test, cloned from a template that is migrated
/// once per test process. The server is the throwaway cluster that `scripts/test` starts.
public struct TestDatabase: Sendable {
    public let url: DatabaseURL
    /// Connected as the owner (a superuser on the test cluster): migrations, tampering in tests.
    public let owner: PostgresClient
    /// Connected as the runtime role `swapline_app`, as the server runs.
    public let app: PostgresClient
    public let logger: Logger

    public static var serverURL: DatabaseURL {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            guard let text = environment["SWAPLINE_TEST_DATABASE_URL"] ?? environment["DATABASE_URL"] else {
                throw TestDatabaseError.notConfigured
            }
            return try DatabaseURL(text)
        }
    }

    public static let logger: Logger = {
        var logger = Logger(label: "swapline.test")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a database of its own, dropped afterwards.
    public static func with<Result: Sendable>(
        _ body: @Sendable (TestDatabase) async throws -> Result
    ) async throws -> Result {
        let server = try serverURL
        let template = try await TemplateDatabase.shared.name(server: server)
        let name = "swapline_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        _ = try await withAdminClient(server) { admin in
            try await admin.query("CREATE DATABASE \(unescaped: name) TEMPLATE \(unescaped: template)", logger: logger)
        }
        let url = server.with(database: name)
        let owner = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 8), backgroundLogger: logger)
        let app = PostgresClient(
            configuration: url.clientConfiguration(role: Migrator.applicationRole, maximumConnections: 40),
            backgroundLogger: logger
        )
        let database = TestDatabase(url: url, owner: owner, app: app, logger: logger)
        let result: Result
        do {
            result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await owner.run() }
                group.addTask { await app.run() }
                defer { group.cancelAll() }
                return try await body(database)
            }
        } catch {
            try? await drop(name, server: server)
            throw error
        }
        try? await drop(name, server: server)
        return result
    }

    static func drop(_ name: String, server: DatabaseURL) async throws {
        _ = try await withAdminClient(server) { admin in
            try await admin.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
        }
    }

    static func withAdminClient<Result: Sendable>(
        _ server: DatabaseURL,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(
            configuration: server.with(database: "postgres").clientConfiguration(maximumConnections: 2),
            backgroundLogger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The package's `schema/` folder, found from this source file.
    public static var schemaDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schema")
    }
}

public enum TestDatabaseError: Error, CustomStringConvertible {
    case notConfigured
    public var description: String {
        "no test database: run the suite with ./scripts/test, which starts a throwaway PostgreSQL"
    }
}

/// Creates and migrates the template once per process, however many tests ask at once.
actor TemplateDatabase {
    static let shared = TemplateDatabase()
    private var creation: Task<String, any Error>?

    func name(server: DatabaseURL) async throws -> String {
        if let creation { return try await creation.value }
        let task = Task<String, any Error> {
            let name = "swapline_template_\(ProcessInfo.processInfo.processIdentifier)_\(UInt32.random(in: 0...UInt32.max))"
            _ = try await TestDatabase.withAdminClient(server) { admin in
                try await admin.query("CREATE DATABASE \(unescaped: name)", logger: TestDatabase.logger)
            }
            let client = PostgresClient(configuration: server.with(database: name).clientConfiguration(maximumConnections: 2))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await Migrator(directory: TestDatabase.schemaDirectory).migrate(client: client, logger: TestDatabase.logger)
            }
            return name
        }
        creation = task
        return try await task.value
    }
}
