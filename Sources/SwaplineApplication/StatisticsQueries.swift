import Foundation
import Logging
import PostgresNIO
import SwaplineDomain

/// One account's figures for one pair and UTC day of creation.
public struct DailyExchangeFigures: Sendable, Equatable {
    public var day: String
    public var pair: CurrencyPair
    public var created: Int64
    public var completed: Int64
    public var failed: Int64
    public var sourceVolume: Decimal
    public var destinationVolume: Decimal
    public var fees: Decimal
    public var failureReasons: [String: Int64]
    /// Seconds from creation to completion, nil without completed exchanges.
    public var p50: Decimal?
    public var p95: Decimal?
    public var p99: Decimal?
}

/// Reads of the analysts' statistics (kept by the `exchange_statistics` projection runner).
public struct StatisticsQueries: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    public static let maximumDays = 366

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// `from` and `to` are UTC days (`YYYY-MM-DD`), both included.
    public func daily(account: AccountID, from: String, to: String, source: Currency?, destination: Currency?) async throws
        -> [DailyExchangeFigures]
    {
        // Year 0000 parses (Timestamp covers four-digit years) but is no PostgreSQL date: 0001 is the first.
        guard let first = Timestamp.parse(from + "T00:00:00Z"), let last = Timestamp.parse(to + "T00:00:00Z"), from.count == 10, to.count == 10,
            !from.hasPrefix("0000"), !to.hasPrefix("0000")
        else { throw SwaplineError.badRequest("payload.from and payload.to must be UTC dates from 0001-01-01 to 9999-12-31, YYYY-MM-DD") }
        guard first <= last, last.timeIntervalSince(first) <= TimeInterval(Self.maximumDays - 1) * 86_400 else {
            throw SwaplineError.badRequest("payload.from must not be after payload.to, and the range at most \(Self.maximumDays) days")
        }
        let rows = try await client.query(
            """
            SELECT d.day::text, d.source_currency, d.destination_currency, d.created, d.completed, d.failed,
                   d.source_volume::text, d.destination_volume::text, d.fees::text,
                   round(p.p50, 3)::text, round(p.p95, 3)::text, round(p.p99, 3)::text
            FROM read.exchange_daily d
            LEFT JOIN LATERAL (
                SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t.seconds_to_complete) AS p50,
                       percentile_disc(0.95) WITHIN GROUP (ORDER BY t.seconds_to_complete) AS p95,
                       percentile_disc(0.99) WITHIN GROUP (ORDER BY t.seconds_to_complete) AS p99
                FROM read.exchange_timings t
                WHERE t.account_id = d.account_id AND t.day = d.day AND t.source_currency = d.source_currency
                  AND t.destination_currency = d.destination_currency AND t.outcome = 'COMPLETED'
            ) p ON true
            WHERE d.account_id = \(account.rawValue) AND d.day BETWEEN \(from)::date AND \(to)::date
              AND (\(source?.code)::text IS NULL OR d.source_currency = \(source?.code))
              AND (\(destination?.code)::text IS NULL OR d.destination_currency = \(destination?.code))
            ORDER BY d.day, d.source_currency, d.destination_currency
            """, logger: logger)
        var figures: [DailyExchangeFigures] = []
        for try await row in rows {
            let (day, sourceCode, destinationCode, created, completed, failed, sourceVolume, destinationVolume, fees, p50, p95, p99) =
                try row.decode((String, String, String, Int64, Int64, Int64, String, String, String, String?, String?, String?).self)
            figures.append(
                DailyExchangeFigures(
                    day: day, pair: CurrencyPair(Currency(sourceCode), Currency(destinationCode)), created: created, completed: completed,
                    failed: failed, sourceVolume: try Amount.parseDecimal(sourceVolume), destinationVolume: try Amount.parseDecimal(destinationVolume),
                    fees: try Amount.parseDecimal(fees), failureReasons: [:], p50: try p50.map(Amount.parseDecimal),
                    p95: try p95.map(Amount.parseDecimal), p99: try p99.map(Amount.parseDecimal)))
        }
        let reasons = try await client.query(
            """
            SELECT day::text, source_currency, destination_currency, failure_reason, failed FROM read.exchange_failures
            WHERE account_id = \(account.rawValue) AND day BETWEEN \(from)::date AND \(to)::date
            """, logger: logger)
        for try await (day, sourceCode, destinationCode, reason, count) in reasons.decode((String, String, String, String, Int64).self) {
            let pair = CurrencyPair(Currency(sourceCode), Currency(destinationCode))
            if let index = figures.firstIndex(where: { $0.day == day && $0.pair == pair }) {
                figures[index].failureReasons[reason] = count
            }
        }
        return figures
    }
}
