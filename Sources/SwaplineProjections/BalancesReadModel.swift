import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.balances`: available and held per account and currency. The only code that writes it.
///
/// A rebuild applies a hundred thousand account events in one statement from the event table:
/// each event becomes signed (available, held) movements per currency, summed per account and
/// currency and added to the rows. An append applies its own events' movements in one statement.
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

    /// An append's own events, summed per row in Swift (faster per append than the set-based
    /// statement below, as for `ExchangesReadModel`); `RebuildTests` compares the two.
    ///
    /// Several appends committed together (group commit) move many rows: their movements are
    /// summed per row and upserted in one statement, rows in key order so that two such
    /// transactions lock them in the same order.
    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        var moved: [Row: (available: Decimal, held: Decimal, at: Date)] = [:]
        for recorded in events where recorded.streamId.hasPrefix("account-") {
            guard AccountEvent.eventTypes.contains(recorded.eventType) else { continue }
            let account = String(recorded.streamId.dropFirst("account-".count))
            let event = try AccountEvent.decode(
                eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
            for (currency, available, held) in Self.movements(event) {
                let row = Row(account: account, currency: currency.code)
                let sum = moved[row] ?? (available: Decimal(0), held: Decimal(0), at: recorded.recordedAt)
                moved[row] = (sum.available + available, sum.held + held, max(sum.at, recorded.recordedAt))
            }
        }
        if moved.count == 1, let (row, sum) = moved.first {
            try await connection.run(
                UpsertMovement.self, try PostgresBindings(row.account, row.currency, sum.available.plainText, sum.held.plainText, sum.at),
                schema: schema, logger: logger)
        } else if !moved.isEmpty {
            let rows = moved.sorted { ($0.key.account, $0.key.currency) < ($1.key.account, $1.key.currency) }
            try await connection.run(
                UpsertMovements.self,
                try PostgresBindings(
                    rows.map(\.key.account), rows.map(\.key.currency), rows.map(\.value.available.plainText), rows.map(\.value.held.plainText),
                    rows.map(\.value.at)),
                schema: schema, logger: logger)
        }
    }

    struct Row: Hashable {
        var account: String
        var currency: String
    }

    enum UpsertMovements: PreparedSQL {
        static let sql = """
            INSERT INTO read.balances (account_id, currency, available, held, updated_at)
            SELECT account, currency, available::numeric, held::numeric, at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS m(account, currency, available, held, at)
            ON CONFLICT (account_id, currency) DO UPDATE SET
                available = read.balances.available + EXCLUDED.available,
                held = read.balances.held + EXCLUDED.held,
                updated_at = GREATEST(read.balances.updated_at, EXCLUDED.updated_at)
            """
    }

    enum UpsertMovement: PreparedSQL {
        static let sql = """
            INSERT INTO read.balances (account_id, currency, available, held, updated_at)
            VALUES ($1, $2, $3::numeric, $4::numeric, $5)
            ON CONFLICT (account_id, currency) DO UPDATE SET
                available = read.balances.available + EXCLUDED.available,
                held = read.balances.held + EXCLUDED.held,
                updated_at = GREATEST(read.balances.updated_at, EXCLUDED.updated_at)
            """
    }

    /// How an event moves each currency's (available, held), as signed deltas.
    static func movements(_ event: AccountEvent) -> [(Currency, Decimal, Decimal)] {
        switch event {
        case .opened: []
        case .deposited(let deposit): [(deposit.currency, deposit.amount, 0)]
        case .withdrawn(let withdrawal): [(withdrawal.currency, -withdrawal.amount, 0)]
        case .held(let hold): [(hold.currency, -hold.amount, hold.amount)]
        case .released(let release): [(release.currency, release.amount, -release.amount)]
        case .settled(let settlement):
            [(settlement.sourceCurrency, 0, -settlement.sourceAmount), (settlement.destinationCurrency, settlement.destinationAmount, 0)]
        }
    }

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
