import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.exchange_timings`, `read.exchange_daily` and `read.exchange_failures`: the analysts'
/// figures per account, pair and UTC day of creation. The only code that writes those tables.
public struct ExchangeStatistics: SingleStatementProjection, RebuildableProjection {
    public let name = "exchange_statistics"
    public let tables = ["exchange_timings", "exchange_daily", "exchange_failures"]
    public let isInline = false
    /// The schema it writes to: `read`, or a rebuild's fresh copy.
    public let schema: String

    public init(schema: String = "read") {
        self.schema = schema
    }

    public func writing(to schema: String) -> any RebuildableProjection { Self(schema: schema) }

    /// The batch's counted events in one statement, conditional on the checkpoint's move when
    /// given; nil (and no statement) when none of them counts.
    public func apply(_ events: [RecordedEvent], moving checkpoint: CheckpointMove?, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool?
    {
        let positions = events.filter { $0.streamId.hasPrefix("exchange-") && Self.counted.contains($0.eventType) }.map(\.globalPosition)
        guard !positions.isEmpty else { return nil }
        return try await apply(.positions(positions), moving: checkpoint, on: connection, logger: logger)
    }

    /// The exchange events the figures are made of.
    static let counted = ["ExchangeRequested", "ExchangeCompleted", "ExchangeFailed"]

    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await apply(selection, moving: nil, on: connection, logger: logger)
    }

    /// A batch in one statement straight from the event table, conditional on the runner's
    /// checkpoint move when given (returns whether it moved): under load each round trip of a
    /// batch added to the lag (three statements, one per kind of fact, and the transaction
    /// around them, took four more).
    ///
    /// The statement's parts all see the tables as they were before it, so an exchange requested
    /// and finished in one batch is inserted finished, and the update finishes only the rows that
    /// were there already; the daily figures are summed per row before the one upsert (an upsert
    /// may not touch a row twice). Re-applying a fact changes nothing: a timing row is inserted
    /// once, finished once, and only what was inserted or finished is counted. The insert and the
    /// update are the only writes the move gates: the rest counts what they return.
    @discardableResult
    func apply(_ selection: EventSelection, moving checkpoint: CheckpointMove?, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        let rows = try await connection.query(
            """
            WITH \(moving: checkpoint) batch AS MATERIALIZED (
                SELECT substr(events.stream_id, 10)::bigint AS id, events.event_type AS type,
                    \(payloadOfVersion: ExchangeEvent.schemaVersion) AS data
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'exchange-%'
                  AND events.event_type IN ('ExchangeRequested', 'ExchangeCompleted', 'ExchangeFailed')
            ), finishes AS (
                SELECT id, type = 'ExchangeCompleted' AS completed, data,
                    CASE WHEN type = 'ExchangeCompleted' THEN (data->>'completedAt')::timestamptz
                         ELSE (data->>'failedAt')::timestamptz END AS finished_at
                FROM batch WHERE type <> 'ExchangeRequested'
            ), inserted AS (
                INSERT INTO \(unescaped: schema).exchange_timings (exchange_id, account_id, day, source_currency, destination_currency,
                    source_amount, destination_amount, fee, created_at, finished_at, outcome, failure_reason, seconds_to_complete)
                SELECT requested.id, requested.data->>'account', ((requested.data->>'requestedAt')::timestamptz AT TIME ZONE 'UTC')::date,
                    requested.data->'price'->'pair'->>'source', requested.data->'price'->'pair'->>'destination',
                    CASE WHEN finishes.completed THEN (finishes.data->>'sourceAmount')::numeric
                         ELSE (requested.data->'price'->>'sourceAmount')::numeric END,
                    CASE WHEN finishes.completed THEN (finishes.data->>'destinationAmount')::numeric
                         ELSE (requested.data->'price'->>'destinationAmount')::numeric END,
                    (requested.data->'price'->>'fee')::numeric, (requested.data->>'requestedAt')::timestamptz,
                    finishes.finished_at,
                    CASE finishes.completed WHEN true THEN 'COMPLETED' WHEN false THEN 'FAILED' END,
                    CASE WHEN NOT finishes.completed THEN finishes.data->>'reason' END,
                    CASE WHEN finishes.completed
                         THEN EXTRACT(EPOCH FROM (finishes.finished_at - (requested.data->>'requestedAt')::timestamptz)) END
                FROM batch AS requested LEFT JOIN finishes ON finishes.id = requested.id
                WHERE requested.type = 'ExchangeRequested'\(ifMoved: checkpoint)
                ON CONFLICT (exchange_id) DO NOTHING
                RETURNING account_id, day, source_currency, destination_currency, source_amount, destination_amount, fee, outcome,
                    failure_reason
            ), finished AS (
                UPDATE \(unescaped: schema).exchange_timings AS timings SET finished_at = finishes.finished_at,
                    outcome = CASE WHEN finishes.completed THEN 'COMPLETED' ELSE 'FAILED' END,
                    source_amount = CASE WHEN finishes.completed THEN (finishes.data->>'sourceAmount')::numeric ELSE timings.source_amount END,
                    destination_amount = CASE WHEN finishes.completed THEN (finishes.data->>'destinationAmount')::numeric
                                              ELSE timings.destination_amount END,
                    failure_reason = CASE WHEN finishes.completed THEN timings.failure_reason ELSE finishes.data->>'reason' END,
                    seconds_to_complete = CASE WHEN finishes.completed
                                               THEN EXTRACT(EPOCH FROM (finishes.finished_at - timings.created_at))
                                               ELSE timings.seconds_to_complete END
                FROM finishes
                WHERE timings.exchange_id = finishes.id AND timings.outcome IS NULL\(ifMoved: checkpoint)
                RETURNING timings.account_id, timings.day, timings.source_currency, timings.destination_currency, timings.source_amount,
                    timings.destination_amount, timings.fee, timings.outcome, timings.failure_reason
            ), counted AS (
                SELECT *, 1 AS created FROM inserted
                UNION ALL
                SELECT *, 0 AS created FROM finished
            ), daily AS (
                INSERT INTO \(unescaped: schema).exchange_daily AS daily (account_id, day, source_currency, destination_currency, created,
                    completed, failed, source_volume, destination_volume, fees)
                SELECT account_id, day, source_currency, destination_currency, sum(created),
                    count(*) FILTER (WHERE outcome = 'COMPLETED'), count(*) FILTER (WHERE outcome = 'FAILED'),
                    COALESCE(sum(source_amount) FILTER (WHERE outcome = 'COMPLETED'), 0),
                    COALESCE(sum(destination_amount) FILTER (WHERE outcome = 'COMPLETED'), 0),
                    COALESCE(sum(fee) FILTER (WHERE outcome = 'COMPLETED'), 0)
                FROM counted GROUP BY 1, 2, 3, 4
                ON CONFLICT (account_id, day, source_currency, destination_currency) DO UPDATE SET
                    created = daily.created + EXCLUDED.created, completed = daily.completed + EXCLUDED.completed,
                    failed = daily.failed + EXCLUDED.failed, source_volume = daily.source_volume + EXCLUDED.source_volume,
                    destination_volume = daily.destination_volume + EXCLUDED.destination_volume, fees = daily.fees + EXCLUDED.fees
            ), failures AS (
                INSERT INTO \(unescaped: schema).exchange_failures AS failures (account_id, day, source_currency, destination_currency,
                    failure_reason, failed)
                SELECT account_id, day, source_currency, destination_currency, failure_reason, count(*)
                FROM counted WHERE outcome = 'FAILED' GROUP BY 1, 2, 3, 4, 5
                ON CONFLICT (account_id, day, source_currency, destination_currency, failure_reason)
                    DO UPDATE SET failed = failures.failed + EXCLUDED.failed)
            SELECT \(whetherMoved: checkpoint)
            """, logger: logger)
        for try await moved in rows.decode(Bool.self) { return moved }
        return false
    }
}
