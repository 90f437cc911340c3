import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.balances`: available and held per account and currency. The only code that writes it.
///
/// One set-based statement for an append and for a rebuild's batch of a hundred thousand events:
/// each account event becomes signed (available, held) movements per currency, summed per
/// account and currency and added to the rows.
public struct BalancesReadModel: InlineProjection, RebuildableProjection {
    public let name = "balances"

    /// The schema it writes to: `read`, or a rebuild's fresh copy.
    public let schema: String
    public let tables = ["balances"]
    public let isInline = true

    public init(schema: String = "read") {
        self.schema = schema
    }

    public func writing(to schema: String) -> any RebuildableProjection { Self(schema: schema) }

    /// Additive, so it must see each event once: appends write their own events, a rebuild's
    /// batches do not overlap.
    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(writes(reading:), over: selection, logger: logger)
    }

    /// The rows are upserted in key order, so that two appends moving the same rows lock them in
    /// the same order.
    public func writes(reading source: String) -> String {
        // How each event moves its currencies, as signed (available, held) deltas:
        //   deposited (+a, 0)   withdrawn (−a, 0)   held (−a, +a)   released (+a, −a)
        //   settled   source (0, −sourceAmount) and destination (+destinationAmount, 0)
        """
        balances_moved AS (
            SELECT substr(events.stream_id, 9) AS account_id, events.recorded_at, events.event_type AS type,
                \(EventSelection.payload(ofVersion: AccountEvent.schemaVersion)) AS data
            FROM \(source) AS events
            WHERE events.stream_id LIKE 'account-%'
              AND events.event_type IN ('FundsDeposited', 'FundsWithdrawn', 'FundsHeld', 'HoldReleased', 'ExchangeSettled')
        ), balances_movements AS (
            SELECT account_id, recorded_at, data->>'currency' AS currency,
                CASE type WHEN 'FundsWithdrawn' THEN -1 WHEN 'FundsHeld' THEN -1 ELSE 1 END * (data->>'amount')::numeric AS available,
                CASE type WHEN 'FundsHeld' THEN 1 WHEN 'HoldReleased' THEN -1 ELSE 0 END * (data->>'amount')::numeric AS held
            FROM balances_moved WHERE type <> 'ExchangeSettled'
            UNION ALL
            SELECT account_id, recorded_at, data->>'sourceCurrency', 0, -(data->>'sourceAmount')::numeric
            FROM balances_moved WHERE type = 'ExchangeSettled'
            UNION ALL
            SELECT account_id, recorded_at, data->>'destinationCurrency', (data->>'destinationAmount')::numeric, 0
            FROM balances_moved WHERE type = 'ExchangeSettled'
        ), balances_upserted AS (
            INSERT INTO \(schema).balances AS balance (account_id, currency, available, held, updated_at)
            SELECT account_id, currency, sum(available), sum(held), max(recorded_at) FROM balances_movements GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (account_id, currency) DO UPDATE SET
                available = balance.available + EXCLUDED.available,
                held = balance.held + EXCLUDED.held,
                updated_at = GREATEST(balance.updated_at, EXCLUDED.updated_at)
        )
        """
    }
}
