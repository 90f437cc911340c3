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

    /// A batch in at most three statements (requests, completions, failures, in that order, so
    /// an exchange requested and finished in one batch is counted both ways), each an `unnest`
    /// of the batch's facts: one statement per fact made the runner fall behind the create load.
    /// Re-applying a fact changes nothing: a timing row is inserted once, finished once.
    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        var requested = RequestedRows()
        var completed = CompletedRows()
        var failed = FailedRows()
        for fact in try events.exchangeFacts() {
            switch fact.event {
            case .requested(let request): requested.append(fact.id, request)
            case .completed(let event): completed.append(fact.id, event)
            case .failed(let event): failed.append(fact.id, event)
            case .quoted, .submitted: continue
            }
        }
        if !requested.ids.isEmpty {
            try await connection.query(
                """
                WITH inserted AS (
                    INSERT INTO \(unescaped: schema).exchange_timings (exchange_id, account_id, day, source_currency, destination_currency,
                        source_amount, destination_amount, fee, created_at)
                    SELECT id, account, (at AT TIME ZONE 'UTC')::date, source, destination, source_amount, destination_amount, fee, at
                    FROM unnest(\(requested.ids)::bigint[], \(requested.accounts)::text[], \(requested.times)::timestamptz[],
                                \(requested.sources)::text[], \(requested.destinations)::text[], \(requested.sourceAmounts)::numeric[],
                                \(requested.destinationAmounts)::numeric[], \(requested.fees)::numeric[])
                         AS input(id, account, at, source, destination, source_amount, destination_amount, fee)
                    ON CONFLICT (exchange_id) DO NOTHING
                    RETURNING account_id, day, source_currency, destination_currency)
                INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, created)
                SELECT account_id, day, source_currency, destination_currency, count(*) FROM inserted GROUP BY 1, 2, 3, 4
                ON CONFLICT (account_id, day, source_currency, destination_currency)
                    DO UPDATE SET created = \(unescaped: schema).exchange_daily.created + EXCLUDED.created
                """, logger: logger)
        }
        if !completed.ids.isEmpty {
            try await connection.query(
                """
                WITH finished AS (
                    UPDATE \(unescaped: schema).exchange_timings AS timings SET finished_at = input.at, outcome = 'COMPLETED',
                        source_amount = input.source_amount, destination_amount = input.destination_amount,
                        seconds_to_complete = EXTRACT(EPOCH FROM (input.at - timings.created_at))
                    FROM unnest(\(completed.ids)::bigint[], \(completed.times)::timestamptz[], \(completed.sourceAmounts)::numeric[],
                                \(completed.destinationAmounts)::numeric[]) AS input(id, at, source_amount, destination_amount)
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
        }
        if !failed.ids.isEmpty {
            try await connection.query(
                """
                WITH finished AS (
                    UPDATE \(unescaped: schema).exchange_timings AS timings SET finished_at = input.at, outcome = 'FAILED',
                        failure_reason = input.reason
                    FROM unnest(\(failed.ids)::bigint[], \(failed.times)::timestamptz[], \(failed.reasons)::text[]) AS input(id, at, reason)
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
}

/// One batch's requests, column by column for one `unnest`; amounts as exact decimal text.
struct RequestedRows {
    var ids: [Int64] = []
    var accounts: [String] = []
    var times: [Date] = []
    var sources: [String] = []
    var destinations: [String] = []
    var sourceAmounts: [String] = []
    var destinationAmounts: [String] = []
    var fees: [String] = []

    mutating func append(_ id: Int64, _ request: ExchangeRequested) {
        let price = request.price
        ids.append(id)
        accounts.append(request.account.rawValue)
        times.append(request.requestedAt)
        sources.append(price.pair.source.code)
        destinations.append(price.pair.destination.code)
        sourceAmounts.append(price.sourceAmount.plainText)
        destinationAmounts.append(price.destinationAmount.plainText)
        fees.append(price.fee.plainText)
    }
}

struct CompletedRows {
    var ids: [Int64] = []
    var times: [Date] = []
    var sourceAmounts: [String] = []
    var destinationAmounts: [String] = []

    mutating func append(_ id: Int64, _ event: ExchangeCompleted) {
        ids.append(id)
        times.append(event.completedAt)
        sourceAmounts.append(event.sourceAmount.plainText)
        destinationAmounts.append(event.destinationAmount.plainText)
    }
}

struct FailedRows {
    var ids: [Int64] = []
    var times: [Date] = []
    var reasons: [String] = []

    mutating func append(_ id: Int64, _ event: ExchangeFailed) {
        ids.append(id)
        times.append(event.failedAt)
        reasons.append(event.reason.rawValue)
    }
}
