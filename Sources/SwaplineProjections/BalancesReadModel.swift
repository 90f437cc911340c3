import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.balances`: available and held per account and currency. The only code that writes it.
///
/// One statement applies any number of account events from the event table: each event becomes
/// signed (available, held) movements per currency, summed per account and currency and added
/// to the rows. An append applies its own events with it; a rebuild a hundred thousand at a time.
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

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        let positions = events.filter { $0.streamId.hasPrefix("account-") && Self.moving.contains($0.eventType) }.map(\.globalPosition)
        guard !positions.isEmpty else { return }
        try await apply(.positions(positions), on: connection, logger: logger)
    }

    /// The account events that move money (`AccountOpened` moves none).
    static let moving = ["FundsDeposited", "FundsWithdrawn", "FundsHeld", "HoldReleased", "ExchangeSettled"]

    /// Additive, so it must see each event once: appends apply their own events, a rebuild's
    /// batches do not overlap.
    public func apply(_ selection: EventSelection, on connection: PostgresConnection, logger: Logger) async throws {
        // How each event moves its currencies, as signed (available, held) deltas:
        //   deposited (+a, 0)   withdrawn (−a, 0)   held (−a, +a)   released (+a, −a)
        //   settled   source (0, −sourceAmount) and destination (+destinationAmount, 0)
        try await connection.query(
            """
            WITH moved AS (
                SELECT substr(events.stream_id, 9) AS account_id, events.recorded_at, events.event_type AS type,
                    \(payloadOfVersion: AccountEvent.schemaVersion) AS data
                FROM events
                WHERE \(eventsIn: selection) AND events.stream_id LIKE 'account-%'
                  AND events.event_type IN ('FundsDeposited', 'FundsWithdrawn', 'FundsHeld', 'HoldReleased', 'ExchangeSettled')
            ), movements AS (
                SELECT account_id, recorded_at, data->>'currency' AS currency,
                    CASE type WHEN 'FundsWithdrawn' THEN -1 WHEN 'FundsHeld' THEN -1 ELSE 1 END * (data->>'amount')::numeric AS available,
                    CASE type WHEN 'FundsHeld' THEN 1 WHEN 'HoldReleased' THEN -1 ELSE 0 END * (data->>'amount')::numeric AS held
                FROM moved WHERE type <> 'ExchangeSettled'
                UNION ALL
                SELECT account_id, recorded_at, data->>'sourceCurrency', 0, -(data->>'sourceAmount')::numeric
                FROM moved WHERE type = 'ExchangeSettled'
                UNION ALL
                SELECT account_id, recorded_at, data->>'destinationCurrency', (data->>'destinationAmount')::numeric, 0
                FROM moved WHERE type = 'ExchangeSettled'
            )
            INSERT INTO \(unescaped: schema).balances AS balance (account_id, currency, available, held, updated_at)
            SELECT account_id, currency, sum(available), sum(held), max(recorded_at) FROM movements GROUP BY 1, 2
            ON CONFLICT (account_id, currency) DO UPDATE SET
                available = balance.available + EXCLUDED.available,
                held = balance.held + EXCLUDED.held,
                updated_at = GREATEST(balance.updated_at, EXCLUDED.updated_at)
            """, logger: logger)
    }
}
