import Foundation
import Logging
import PostgresNIO
import SwaplineEventStore

/// The read models Swapline keeps, by how they are kept.
public enum ReadModels {
    /// Updated inside every append's transaction: what the API reads back at once.
    public static let inline: [any InlineProjection] = [ExchangesReadModel(), BalancesReadModel()]
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
