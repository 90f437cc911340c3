import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.exchange_timings`, `read.exchange_daily` and `read.exchange_failures`: the analysts'
/// figures per account, pair and UTC day of creation. The only code that writes those tables.
public struct ExchangeStatistics: AsyncProjection, RebuildableProjection {
    public let name = "exchange_statistics"
    public let tables = ["exchange_timings", "exchange_daily", "exchange_failures"]
    public let isInline = false
    /// The schema it writes to: `read`, or a rebuild's fresh copy.
    public let schema: String

    public init(schema: String = "read") {
        self.schema = schema
    }

    public func writing(to schema: String) -> any RebuildableProjection { Self(schema: schema) }

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        let positions = events.filter { $0.streamId.hasPrefix("exchange-") && Self.counted.contains($0.eventType) }.map(\.globalPosition)
        guard !positions.isEmpty else { return }
        try await apply(.positions(positions), on: connection, logger: logger)
    }

    /// The exchange events the figures are made of.
    static let counted = ["ExchangeRequested", "ExchangeCompleted", "ExchangeFailed"]

    /// A batch in three statements straight from the event table (requests, completions,
    /// failures, in that order, so an exchange requested and finished in one batch is counted
    /// both ways); one statement per fact made the runner fall behind the create load.
    /// Re-applying a fact changes nothing: a timing row is inserted once, finished once.
    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            WITH requested AS (
                SELECT substr(events.stream_id, 10)::bigint AS id, \(payloadOfVersion: ExchangeEvent.schemaVersion) AS data
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'exchange-%' AND events.event_type = 'ExchangeRequested'
            ), inserted AS (
                INSERT INTO \(unescaped: schema).exchange_timings (exchange_id, account_id, day, source_currency, destination_currency,
                    source_amount, destination_amount, fee, created_at)
                SELECT id, data->>'account', ((data->>'requestedAt')::timestamptz AT TIME ZONE 'UTC')::date,
                    data->'price'->'pair'->>'source', data->'price'->'pair'->>'destination', (data->'price'->>'sourceAmount')::numeric,
                    (data->'price'->>'destinationAmount')::numeric, (data->'price'->>'fee')::numeric, (data->>'requestedAt')::timestamptz
                FROM requested
                ON CONFLICT (exchange_id) DO NOTHING
                RETURNING account_id, day, source_currency, destination_currency)
            INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, created)
            SELECT account_id, day, source_currency, destination_currency, count(*) FROM inserted GROUP BY 1, 2, 3, 4
            ON CONFLICT (account_id, day, source_currency, destination_currency)
                DO UPDATE SET created = \(unescaped: schema).exchange_daily.created + EXCLUDED.created
            """, logger: logger)
        try await connection.query(
            """
            WITH input AS (
                SELECT substr(events.stream_id, 10)::bigint AS id, \(payloadOfVersion: ExchangeEvent.schemaVersion) AS data
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'exchange-%' AND events.event_type = 'ExchangeCompleted'
            ), finished AS (
                UPDATE \(unescaped: schema).exchange_timings AS timings SET finished_at = (input.data->>'completedAt')::timestamptz,
                    outcome = 'COMPLETED', source_amount = (input.data->>'sourceAmount')::numeric,
                    destination_amount = (input.data->>'destinationAmount')::numeric,
                    seconds_to_complete = EXTRACT(EPOCH FROM ((input.data->>'completedAt')::timestamptz - timings.created_at))
                FROM input
                WHERE timings.exchange_id = input.id AND timings.outcome IS NULL
                RETURNING timings.account_id, timings.day, timings.source_currency, timings.destination_currency,
                    timings.source_amount, timings.destination_amount, timings.fee)
            INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, completed,
                source_volume, destination_volume, fees)
            SELECT account_id, day, source_currency, destination_currency, count(*), sum(source_amount), sum(destination_amount), sum(fee)
            FROM finished GROUP BY 1, 2, 3, 4
            ON CONFLICT (account_id, day, source_currency, destination_currency) DO UPDATE SET
                completed = \(unescaped: schema).exchange_daily.completed + EXCLUDED.completed,
                source_volume = \(unescaped: schema).exchange_daily.source_volume + EXCLUDED.source_volume,
                destination_volume = \(unescaped: schema).exchange_daily.destination_volume + EXCLUDED.destination_volume,
                fees = \(unescaped: schema).exchange_daily.fees + EXCLUDED.fees
            """, logger: logger)
        try await connection.query(
            """
            WITH input AS (
                SELECT substr(events.stream_id, 10)::bigint AS id, \(payloadOfVersion: ExchangeEvent.schemaVersion) AS data
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'exchange-%' AND events.event_type = 'ExchangeFailed'
            ), finished AS (
                UPDATE \(unescaped: schema).exchange_timings AS timings SET finished_at = (input.data->>'failedAt')::timestamptz,
                    outcome = 'FAILED', failure_reason = input.data->>'reason'
                FROM input
                WHERE timings.exchange_id = input.id AND timings.outcome IS NULL
                RETURNING timings.account_id, timings.day, timings.source_currency, timings.destination_currency, timings.failure_reason),
            counted AS (
                INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, failed)
                SELECT account_id, day, source_currency, destination_currency, count(*) FROM finished GROUP BY 1, 2, 3, 4
                ON CONFLICT (account_id, day, source_currency, destination_currency)
                    DO UPDATE SET failed = \(unescaped: schema).exchange_daily.failed + EXCLUDED.failed)
            INSERT INTO \(unescaped: schema).exchange_failures (account_id, day, source_currency, destination_currency, failure_reason, failed)
            SELECT account_id, day, source_currency, destination_currency, failure_reason, count(*) FROM finished GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT (account_id, day, source_currency, destination_currency, failure_reason)
                DO UPDATE SET failed = \(unescaped: schema).exchange_failures.failed + EXCLUDED.failed
            """, logger: logger)
    }
}
