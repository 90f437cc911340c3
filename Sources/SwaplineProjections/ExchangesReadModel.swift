import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.exchanges`: one row per exchange with every field of the API's exchange object and
/// the time of each step. The only code that writes the table.
///
/// A rebuild applies a hundred thousand events in one statement, straight from the event table:
/// it folds each exchange's events of the selection into one row (an exchange's stream has at
/// most one event of each type), inserts the exchanges requested in it and updates the others.
/// An append applies its own events a statement each (the requests of several appends committed
/// together, one statement).
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

    /// An append's own events (one or two), a statement each: the set-based statement below,
    /// parsed and planned on every append, made a signed create ~25 % slower (0.35× against
    /// 0.46× pgbench, docs/PERFORMANCE.md). Both paths write the same rows; `RebuildTests`
    /// compares the live table with its rebuild column by column.
    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        let facts = try events.exchangeFacts()
        let requests = facts.compactMap { fact -> (ExchangeID, Int64, ExchangeRequested)? in
            if case .requested(let request) = fact.event { (fact.id, fact.version, request) } else { nil }
        }
        // Concurrent creates committed together (group commit) insert their rows in one
        // statement; the steps after a request follow it a statement each.
        if requests.count > 1 {
            try await insertRequested(requests, on: connection, logger: logger)
        }
        for fact in facts {
            if requests.count > 1, case .requested = fact.event { continue }
            try await apply(fact.event, id: fact.id, version: fact.version, on: connection, logger: logger)
        }
    }

    func insertRequested(_ requests: [(ExchangeID, Int64, ExchangeRequested)], on connection: PostgresConnection, logger: Logger) async throws {
        let prices = requests.map(\.2.price)
        let bindings = try PostgresBindings(
            requests.map(\.0), requests.map(\.2.account.rawValue), prices.map(\.pair.source.code), prices.map(\.pair.destination.code),
            prices.map(\.direction.rawValue), prices.map(\.sourceAmount.plainText), prices.map(\.destinationAmount.plainText),
            prices.map(\.rate.plainText), prices.map(\.fee.plainText), requests.map(\.2.requestedAt), requests.map(\.1),
            requests.map { $0.2.quoteId?.uuidString ?? "" })
        try await connection.run(InsertRequestedMany.self, bindings, schema: schema, logger: logger)
    }

    func apply(_ event: ExchangeEvent, id: ExchangeID, version: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        // Each update applies only the next version, so replaying an event twice changes nothing.
        switch event {
        case .requested(let request):
            let price = request.price
            var bindings = try PostgresBindings(
                id, request.account.rawValue, price.pair.source.code, price.pair.destination.code, price.direction.rawValue,
                price.sourceAmount.plainText, price.destinationAmount.plainText, price.rate.plainText, price.fee.plainText,
                request.requestedAt, version)
            bindings.append(request.quoteId)
            try await connection.run(InsertRequested.self, bindings, schema: schema, logger: logger)
        case .quoted(let quoted):
            try await connection.run(
                UpdateQuoted.self, try PostgresBindings(id, version, quoted.executionRate.plainText, quoted.quotedAt),
                schema: schema, logger: logger)
        case .submitted(let submitted):
            try await connection.run(
                UpdateSubmitted.self, try PostgresBindings(id, version, submitted.clientOrderId, submitted.submittedAt),
                schema: schema, logger: logger)
        case .completed(let completed):
            try await connection.run(
                UpdateCompleted.self,
                try PostgresBindings(
                    id, version, completed.sourceAmount.plainText, completed.destinationAmount.plainText, completed.completedAt),
                schema: schema, logger: logger)
        case .failed(let failed):
            var bindings = try PostgresBindings(id, version, failed.reason.rawValue, failed.failedAt)
            bindings.append(failed.detail)
            try await connection.run(UpdateFailed.self, bindings, schema: schema, logger: logger)
        }
    }

    enum InsertRequested: PreparedSQL {
        static let sql = """
            INSERT INTO read.exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
                destination_amount, rate, fee, state, status, quote_id, created_at, updated_at, stream_version)
            VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9::numeric, 'IN_PROGRESS', 'requested', $12, $10, $10, $11)
            ON CONFLICT (id) DO NOTHING
            """
    }

    enum InsertRequestedMany: PreparedSQL {
        static let sql = """
            INSERT INTO read.exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
                destination_amount, rate, fee, state, status, quote_id, created_at, updated_at, stream_version)
            SELECT id, account, source, destination, direction, source_amount::numeric, destination_amount::numeric, rate::numeric,
                fee::numeric, 'IN_PROGRESS', 'requested', NULLIF(quote, '')::uuid, at, at, version
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                        $10::timestamptz[], $11::bigint[], $12::text[])
                 AS r(id, account, source, destination, direction, source_amount, destination_amount, rate, fee, at, version, quote)
            ON CONFLICT (id) DO NOTHING
            """
    }

    enum UpdateQuoted: PreparedSQL {
        static let sql = """
            UPDATE read.exchanges SET status = 'quoted', execution_rate = $3::numeric, quoted_at = $4, updated_at = $4, stream_version = $2
            WHERE id = $1 AND stream_version < $2
            """
    }

    enum UpdateSubmitted: PreparedSQL {
        static let sql = """
            UPDATE read.exchanges SET status = 'submitted', client_order_id = $3, submitted_at = $4, updated_at = $4, stream_version = $2
            WHERE id = $1 AND stream_version < $2
            """
    }

    enum UpdateCompleted: PreparedSQL {
        static let sql = """
            UPDATE read.exchanges SET status = 'completed', state = 'COMPLETED', source_amount = $3::numeric,
                destination_amount = $4::numeric, completed_at = $5, updated_at = $5, stream_version = $2
            WHERE id = $1 AND stream_version < $2
            """
    }

    enum UpdateFailed: PreparedSQL {
        static let sql = """
            UPDATE read.exchanges SET status = 'failed', state = 'FAILED', failure_reason = $3, failure_detail = $5,
                failed_at = $4, updated_at = $4, stream_version = $2
            WHERE id = $1 AND stream_version < $2
            """
    }

    /// Only a newer stream version changes a row, so applying an event twice changes nothing.
    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            WITH folded AS (
                SELECT substr(events.stream_id, 10)::bigint AS id, max(events.stream_version) AS version,
                    (array_agg(events.event_type ORDER BY events.stream_version DESC))[1] AS latest,
                    (array_agg(\(payloadOfVersion: ExchangeEvent.schemaVersion)) FILTER (WHERE events.event_type = 'ExchangeRequested'))[1] AS requested,
                    (array_agg(\(payloadOfVersion: ExchangeEvent.schemaVersion)) FILTER (WHERE events.event_type = 'ExchangeQuoted'))[1] AS quoted,
                    (array_agg(\(payloadOfVersion: ExchangeEvent.schemaVersion)) FILTER (WHERE events.event_type = 'ExchangeSubmitted'))[1] AS submitted,
                    (array_agg(\(payloadOfVersion: ExchangeEvent.schemaVersion)) FILTER (WHERE events.event_type = 'ExchangeCompleted'))[1] AS completed,
                    (array_agg(\(payloadOfVersion: ExchangeEvent.schemaVersion)) FILTER (WHERE events.event_type = 'ExchangeFailed'))[1] AS failed
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'exchange-%'
                  AND events.event_type IN ('ExchangeRequested', 'ExchangeQuoted', 'ExchangeSubmitted', 'ExchangeCompleted', 'ExchangeFailed')
                GROUP BY 1
            ), changes AS (
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
                FROM folded
            ), inserted AS (
                INSERT INTO \(unescaped: schema).exchanges (id, account_id, source_currency, destination_currency, direction, source_amount,
                    destination_amount, rate, fee, state, status, failure_reason, failure_detail, quote_id, execution_rate, client_order_id,
                    created_at, quoted_at, submitted_at, completed_at, failed_at, updated_at, stream_version)
                SELECT id, requested->>'account', requested->'price'->'pair'->>'source', requested->'price'->'pair'->>'destination',
                    requested->'price'->>'direction',
                    COALESCE(completed_source_amount, (requested->'price'->>'sourceAmount')::numeric),
                    COALESCE(completed_destination_amount, (requested->'price'->>'destinationAmount')::numeric),
                    (requested->'price'->>'rate')::numeric, (requested->'price'->>'fee')::numeric, COALESCE(final_state, 'IN_PROGRESS'), status,
                    failure_reason, failure_detail, (requested->>'quoteId')::uuid, execution_rate, client_order_id,
                    (requested->>'requestedAt')::timestamptz, quoted_at, submitted_at, completed_at, failed_at, updated_at, version
                FROM changes WHERE requested IS NOT NULL
                ON CONFLICT (id) DO NOTHING
                RETURNING id)
            -- Rows the statement inserted are not visible to its own UPDATE; they are already whole.
            UPDATE \(unescaped: schema).exchanges AS exchange SET status = changes.status, state = COALESCE(changes.final_state, exchange.state),
                source_amount = COALESCE(changes.completed_source_amount, exchange.source_amount),
                destination_amount = COALESCE(changes.completed_destination_amount, exchange.destination_amount),
                execution_rate = COALESCE(changes.execution_rate, exchange.execution_rate), quoted_at = COALESCE(changes.quoted_at, exchange.quoted_at),
                client_order_id = COALESCE(changes.client_order_id, exchange.client_order_id),
                submitted_at = COALESCE(changes.submitted_at, exchange.submitted_at), completed_at = COALESCE(changes.completed_at, exchange.completed_at),
                failure_reason = COALESCE(changes.failure_reason, exchange.failure_reason),
                failure_detail = COALESCE(changes.failure_detail, exchange.failure_detail), failed_at = COALESCE(changes.failed_at, exchange.failed_at),
                updated_at = changes.updated_at, stream_version = changes.version
            FROM changes
            WHERE exchange.id = changes.id AND exchange.stream_version < changes.version AND changes.id NOT IN (SELECT id FROM inserted)
            """, logger: logger)
    }
}
