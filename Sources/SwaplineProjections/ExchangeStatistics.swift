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
        for fact in try events.exchangeFacts() {
            let id = fact.id
            switch fact.event {
            case .requested(let request):
                let price = request.price
                try await connection.query(
                    """
                    WITH inserted AS (
                        INSERT INTO \(unescaped: schema).exchange_timings (exchange_id, account_id, day, source_currency, destination_currency,
                            source_amount, destination_amount, fee, created_at)
                        VALUES (\(id), \(request.account.rawValue), (\(request.requestedAt)::timestamptz AT TIME ZONE 'UTC')::date,
                            \(price.pair.source.code), \(price.pair.destination.code), \(price.sourceAmount.plainText)::numeric,
                            \(price.destinationAmount.plainText)::numeric, \(price.fee.plainText)::numeric, \(request.requestedAt))
                        ON CONFLICT (exchange_id) DO NOTHING
                        RETURNING account_id, day, source_currency, destination_currency)
                    INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, created)
                    SELECT account_id, day, source_currency, destination_currency, 1 FROM inserted
                    ON CONFLICT (account_id, day, source_currency, destination_currency)
                        DO UPDATE SET created = \(unescaped: schema).exchange_daily.created + 1
                    """, logger: logger)
            case .completed(let completed):
                try await connection.query(
                    """
                    WITH finished AS (
                        UPDATE \(unescaped: schema).exchange_timings SET finished_at = \(completed.completedAt), outcome = 'COMPLETED',
                            source_amount = \(completed.sourceAmount.plainText)::numeric,
                            destination_amount = \(completed.destinationAmount.plainText)::numeric,
                            seconds_to_complete = EXTRACT(EPOCH FROM (\(completed.completedAt)::timestamptz - created_at))
                        WHERE exchange_id = \(id) AND outcome IS NULL
                        RETURNING account_id, day, source_currency, destination_currency, source_amount, destination_amount, fee)
                    INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, completed,
                        source_volume, destination_volume, fees)
                    SELECT account_id, day, source_currency, destination_currency, 1, source_amount, destination_amount, fee FROM finished
                    ON CONFLICT (account_id, day, source_currency, destination_currency) DO UPDATE SET
                        completed = \(unescaped: schema).exchange_daily.completed + 1,
                        source_volume = \(unescaped: schema).exchange_daily.source_volume + EXCLUDED.source_volume,
                        destination_volume = \(unescaped: schema).exchange_daily.destination_volume + EXCLUDED.destination_volume,
                        fees = \(unescaped: schema).exchange_daily.fees + EXCLUDED.fees
                    """, logger: logger)
            case .failed(let failed):
                try await connection.query(
                    """
                    WITH finished AS (
                        UPDATE \(unescaped: schema).exchange_timings SET finished_at = \(failed.failedAt), outcome = 'FAILED',
                            failure_reason = \(failed.reason.rawValue)
                        WHERE exchange_id = \(id) AND outcome IS NULL
                        RETURNING account_id, day, source_currency, destination_currency, failure_reason),
                    counted AS (
                        INSERT INTO \(unescaped: schema).exchange_daily (account_id, day, source_currency, destination_currency, failed)
                        SELECT account_id, day, source_currency, destination_currency, 1 FROM finished
                        ON CONFLICT (account_id, day, source_currency, destination_currency)
                            DO UPDATE SET failed = \(unescaped: schema).exchange_daily.failed + 1)
                    INSERT INTO \(unescaped: schema).exchange_failures (account_id, day, source_currency, destination_currency, failure_reason, failed)
                    SELECT account_id, day, source_currency, destination_currency, failure_reason, 1 FROM finished
                    ON CONFLICT (account_id, day, source_currency, destination_currency, failure_reason)
                        DO UPDATE SET failed = \(unescaped: schema).exchange_failures.failed + 1
                    """, logger: logger)
            case .quoted, .submitted:
                continue
            }
        }
    }
}
