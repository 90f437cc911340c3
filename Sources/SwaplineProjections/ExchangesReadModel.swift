import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.exchanges`: one row per exchange with every field of the API's exchange object and
/// the time of each step. The only code that writes the table.
public struct ExchangesReadModel: InlineProjection, RebuildableProjection {
    public let name = "exchanges"

    /// The schema it writes to: `read`, or a rebuild's fresh copy.
    public let schema: String
    public let tables = ["exchanges"]
    public let isInline = true

    public init(schema: String = "read") {
        self.schema = schema
    }

    public func writing(to schema: String) -> any RebuildableProjection { Self(schema: schema) }

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for fact in try events.exchangeFacts() {
            try await apply(fact.event, id: fact.id, version: fact.version, on: connection, logger: logger)
        }
    }

    func apply(_ event: ExchangeEvent, id: ExchangeID, version: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        // Each update applies only the next version, so replaying an event twice changes nothing.
        switch event {
        case .requested(let request):
            let price = request.price
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema).exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
                    destination_amount, rate, fee, state, status, quote_id, created_at, updated_at, stream_version)
                VALUES (\(id), \(request.account.rawValue), \(price.pair.source.code), \(price.pair.destination.code),
                    \(price.direction.rawValue), \(price.sourceAmount.plainText)::numeric, \(price.destinationAmount.plainText)::numeric,
                    \(price.rate.plainText)::numeric, \(price.fee.plainText)::numeric, 'IN_PROGRESS', 'requested', \(request.quoteId),
                    \(request.requestedAt), \(request.requestedAt), \(version))
                ON CONFLICT (id) DO NOTHING
                """, logger: logger)
        case .quoted(let quoted):
            try await connection.query(
                """
                UPDATE \(unescaped: schema).exchanges SET status = 'quoted', execution_rate = \(quoted.executionRate.plainText)::numeric,
                    quoted_at = \(quoted.quotedAt), updated_at = \(quoted.quotedAt), stream_version = \(version)
                WHERE id = \(id) AND stream_version < \(version)
                """, logger: logger)
        case .submitted(let submitted):
            try await connection.query(
                """
                UPDATE \(unescaped: schema).exchanges SET status = 'submitted', client_order_id = \(submitted.clientOrderId),
                    submitted_at = \(submitted.submittedAt), updated_at = \(submitted.submittedAt), stream_version = \(version)
                WHERE id = \(id) AND stream_version < \(version)
                """, logger: logger)
        case .completed(let completed):
            try await connection.query(
                """
                UPDATE \(unescaped: schema).exchanges SET status = 'completed', state = 'COMPLETED',
                    source_amount = \(completed.sourceAmount.plainText)::numeric,
                    destination_amount = \(completed.destinationAmount.plainText)::numeric,
                    completed_at = \(completed.completedAt), updated_at = \(completed.completedAt), stream_version = \(version)
                WHERE id = \(id) AND stream_version < \(version)
                """, logger: logger)
        case .failed(let failed):
            try await connection.query(
                """
                UPDATE \(unescaped: schema).exchanges SET status = 'failed', state = 'FAILED', failure_reason = \(failed.reason.rawValue),
                    failure_detail = \(failed.detail), failed_at = \(failed.failedAt), updated_at = \(failed.failedAt),
                    stream_version = \(version)
                WHERE id = \(id) AND stream_version < \(version)
                """, logger: logger)
        }
    }
}
