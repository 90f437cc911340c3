import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.exchanges`: one row per exchange with every field of the API's exchange object and
/// the time of each step. The only code that writes the table.
///
/// One set-based statement for an append (inside the append's own statement, see
/// `InlineProjection`) and for a rebuild's batch of a hundred thousand events.
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

    /// Only a newer stream version changes a row, so applying an event twice changes nothing.
    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(writes(reading:), over: selection, logger: logger)
    }

    /// Folds each exchange's events of `source` into one row (an exchange's stream has at most
    /// one event of each type), inserts the exchanges requested in it and updates the others.
    public func writes(reading source: String) -> String {
        let payload = EventSelection.payload(ofVersion: ExchangeEvent.schemaVersion)
        return """
        exchanges_folded AS (
            SELECT substr(events.stream_id, 10)::bigint AS id, max(events.stream_version) AS version,
                (array_agg(events.event_type ORDER BY events.stream_version DESC))[1] AS latest,
                (array_agg(\(payload)) FILTER (WHERE events.event_type = 'ExchangeRequested'))[1] AS requested,
                (array_agg(\(payload)) FILTER (WHERE events.event_type = 'ExchangeQuoted'))[1] AS quoted,
                (array_agg(\(payload)) FILTER (WHERE events.event_type = 'ExchangeSubmitted'))[1] AS submitted,
                (array_agg(\(payload)) FILTER (WHERE events.event_type = 'ExchangeCompleted'))[1] AS completed,
                (array_agg(\(payload)) FILTER (WHERE events.event_type = 'ExchangeFailed'))[1] AS failed
            FROM \(source) AS events
            WHERE events.stream_id LIKE 'exchange-%'
              AND events.event_type IN ('ExchangeRequested', 'ExchangeQuoted', 'ExchangeSubmitted', 'ExchangeCompleted', 'ExchangeFailed')
            GROUP BY 1
        ), exchanges_changes AS (
            SELECT id, version, requested,
                CASE latest WHEN 'ExchangeRequested' THEN 'requested' WHEN 'ExchangeQuoted' THEN 'quoted'
                    WHEN 'ExchangeSubmitted' THEN 'submitted' WHEN 'ExchangeCompleted' THEN 'completed' ELSE 'failed' END AS status,
                CASE latest WHEN 'ExchangeCompleted' THEN 'COMPLETED' WHEN 'ExchangeFailed' THEN 'FAILED' END AS final_state,
                CASE latest WHEN 'ExchangeRequested' THEN requested->>'requestedAt' WHEN 'ExchangeQuoted' THEN quoted->>'quotedAt'
                    WHEN 'ExchangeSubmitted' THEN submitted->>'submittedAt' WHEN 'ExchangeCompleted' THEN completed->>'completedAt'
                    ELSE failed->>'failedAt' END::timestamptz AS updated_at,
                (quoted->>'executionRate')::numeric AS execution_rate, (quoted->>'quotedAt')::timestamptz AS quoted_at,
                submitted->>'clientOrderId' AS client_order_id, (submitted->>'submittedAt')::timestamptz AS submitted_at,
                (completed->>'sourceAmount')::numeric AS completed_source_amount,
                (completed->>'destinationAmount')::numeric AS completed_destination_amount,
                (completed->>'completedAt')::timestamptz AS completed_at,
                failed->>'reason' AS failure_reason, failed->>'detail' AS failure_detail, (failed->>'failedAt')::timestamptz AS failed_at
            FROM exchanges_folded
        ), exchanges_inserted AS (
            INSERT INTO \(schema).exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
                destination_amount, rate, fee, state, status, failure_reason, failure_detail, quote_id, execution_rate, client_order_id,
                created_at, quoted_at, submitted_at, completed_at, failed_at, updated_at, stream_version)
            SELECT id, requested->>'account', requested->'price'->'pair'->>'source', requested->'price'->'pair'->>'destination',
                requested->'price'->>'direction',
                COALESCE(completed_source_amount, (requested->'price'->>'sourceAmount')::numeric),
                COALESCE(completed_destination_amount, (requested->'price'->>'destinationAmount')::numeric),
                (requested->'price'->>'rate')::numeric, (requested->'price'->>'fee')::numeric, COALESCE(final_state, 'IN_PROGRESS'), status,
                failure_reason, failure_detail, (requested->>'quoteId')::uuid, execution_rate, client_order_id,
                (requested->>'requestedAt')::timestamptz, quoted_at, submitted_at, completed_at, failed_at, updated_at, version
            FROM exchanges_changes WHERE requested IS NOT NULL
            ON CONFLICT (id) DO NOTHING
            RETURNING id
        ), exchanges_updated AS (
            -- Rows this statement inserts are not visible to its own UPDATE; they are already whole.
            UPDATE \(schema).exchanges AS exchange SET status = changes.status, state = COALESCE(changes.final_state, exchange.state),
                source_amount = COALESCE(changes.completed_source_amount, exchange.source_amount),
                destination_amount = COALESCE(changes.completed_destination_amount, exchange.destination_amount),
                execution_rate = COALESCE(changes.execution_rate, exchange.execution_rate), quoted_at = COALESCE(changes.quoted_at, exchange.quoted_at),
                client_order_id = COALESCE(changes.client_order_id, exchange.client_order_id),
                submitted_at = COALESCE(changes.submitted_at, exchange.submitted_at), completed_at = COALESCE(changes.completed_at, exchange.completed_at),
                failure_reason = COALESCE(changes.failure_reason, exchange.failure_reason),
                failure_detail = COALESCE(changes.failure_detail, exchange.failure_detail), failed_at = COALESCE(changes.failed_at, exchange.failed_at),
                updated_at = changes.updated_at, stream_version = changes.version
            FROM exchanges_changes AS changes
            WHERE exchange.id = changes.id AND exchange.stream_version < changes.version
              AND changes.id NOT IN (SELECT id FROM exchanges_inserted)
        )
        """
    }
}
