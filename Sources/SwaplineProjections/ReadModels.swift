import Foundation
import Logging
import PostgresNIO
import SwaplineEventStore

/// The read models Swapline keeps, by how they are kept.
public enum ReadModels {
    /// Written by every append's own statement: what the API reads back at once.
    public static let inline: [any InlineProjection] = [ExchangesReadModel(), BalancesReadModel()]
}

/// The append statement of Swapline's writers: the events and the inline read models.
public enum AppendWithReadModels: ProjectingAppend {
    public static let sql = EventStore.appendSQL(projecting: ReadModels.inline)
}

extension ReadModels {
    /// Kept by projection runners from the global order.
    public static let runners: [any AsyncProjection] = [ExchangeStatistics()]
}

extension PostgresConnection {
    /// Runs a read model's prepared statement, written for the live `read` schema; for a
    /// rebuild's copy (`schema`), the same statement sent plainly with the schema replaced.
    func run<Text: PreparedSQL>(_ text: Text.Type, _ bindings: PostgresBindings, schema: String, logger: Logger) async throws {
        if schema == "read" {
            try await run(text, bindings, logger: logger)
        } else {
            try await query(PostgresQuery(unsafeSQL: Text.sql.replacingOccurrences(of: "read.", with: "\(schema)."), binds: bindings), logger: logger)
        }
    }
}
