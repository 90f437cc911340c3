import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineEventStore

/// What every subcommand needs: settings, a logger, and database clients that run for the
/// duration of one piece of work.
enum Runtime {
    static func settings() async throws -> SwaplineSettings {
        do {
            return try SwaplineSettings.load(from: try await SwaplineSettings.makeReader())
        } catch let error as SwaplineConfigurationError {
            throw ValidationError(error.description)
        }
    }

    /// Only `DATABASE_URL`: what read-only work (audit) needs, so an auditor is never handed the master key.
    static func databaseURL() async throws -> DatabaseURL {
        do {
            return try SwaplineSettings.loadDatabaseURL(from: try await SwaplineSettings.makeReader())
        } catch let error as SwaplineConfigurationError {
            throw ValidationError(error.description)
        }
    }

    /// JSON lines when standard error is not a terminal, swift-log's text format on one;
    /// `SWAPLINE_LOG_FORMAT=json|text` overrides. Called once, first thing in `main`.
    static func bootstrapLogging() {
        switch LogFormat.current {
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError)
        }
    }

    static func logger(_ label: String = "swapline") -> Logger {
        var logger = Logger(label: label)
        let level = ProcessInfo.processInfo.environment["SWAPLINE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .info
        return logger
    }

    /// Runs `body` with a client that works as `role`: by default the runtime role, which may
    /// only read and append events; nil keeps the login user's own rights (the owner, for
    /// migrations and rebuilds).
    static func withClient<Result: Sendable>(
        _ settings: SwaplineSettings,
        role: String? = Migrator.applicationRole,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await withClient(settings.databaseURL, role: role, logger: logger, body)
    }

    /// The logger a command's pool gets: its own chatter (a lease racing `run()`'s start) is
    /// noise on a command line, so only its errors.
    static func poolLogger(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = .error
        return quiet
    }

    static func withClient<Result: Sendable>(
        _ databaseURL: DatabaseURL,
        role: String? = Migrator.applicationRole,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let configuration = databaseURL.clientConfiguration(role: role, maximumConnections: 4)
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger(logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The migrations of the `schema/` folder this build runs with.
    static func migrator() throws -> Migrator {
        guard let directory = Migrator.locateSchemaDirectory() else {
            throw ValidationError("cannot find the schema/ folder; set SWAPLINE_SCHEMA_DIR")
        }
        return try Migrator(directory: directory)
    }

    static func migrate(_ settings: SwaplineSettings, logger: Logger) async throws -> [String] {
        let migrator = try migrator()
        return try await withClient(settings, role: nil, logger: logger) { client in
            try await migrator.migrate(client: client, logger: logger)
        }
    }
}
