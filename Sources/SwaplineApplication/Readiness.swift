import Logging
import PostgresNIO
import SwaplineEventStore

/// What `GET /ready` asks: can this node serve now?
public enum Readiness {
    /// Nil when the database answers and has every migration this build knows; else why not.
    public static func problem(client: PostgresClient, migrator: Migrator, logger: Logger) async -> String? {
        do {
            let pending = try await migrator.pending(client: client, logger: logger)
            return pending.isEmpty ? nil : "migrations not applied: \(pending.joined(separator: ", "))"
        } catch {
            return "database unavailable"
        }
    }
}
