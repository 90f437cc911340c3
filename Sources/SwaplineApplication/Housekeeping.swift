import Logging
import PostgresNIO

/// Deletes rows that can no longer matter: request signatures past the replay window,
/// quotes a day after they expired, idempotency keys past their 24 hours.
public struct Housekeeping: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func runOnce() async throws {
        try await client.query("DELETE FROM seen_request_digests WHERE seen_at < now() - interval '6 minutes'", logger: logger)
        try await client.query("DELETE FROM quotes WHERE expires_at < now() - interval '1 day'", logger: logger)
        try await client.query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '25 hours'", logger: logger)
    }
}
