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

    static func logger(_ label: String = "swapline") -> Logger {
        var logger = Logger(label: label)
        let level = ProcessInfo.processInfo.environment["SWAPLINE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .info
        return logger
    }

    /// Runs `body` with a client connected as the owner (migrations) or, by default, as the
    /// runtime role that may only read and append events.
    static func withClient<Result: Sendable>(
        _ settings: SwaplineSettings,
        asOwner: Bool = false,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let configuration = settings.databaseURL.clientConfiguration(role: asOwner ? nil : Migrator.applicationRole, maximumConnections: 4)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func migrate(_ settings: SwaplineSettings, logger: Logger) async throws -> [String] {
        guard let directory = Migrator.locateSchemaDirectory() else {
            throw ValidationError("cannot find the schema/ folder; set SWAPLINE_SCHEMA_DIR")
        }
        let migrator = try Migrator(directory: directory)
        return try await withClient(settings, asOwner: true, logger: logger) { client in
            try await migrator.migrate(client: client, logger: logger)
        }
    }
}
