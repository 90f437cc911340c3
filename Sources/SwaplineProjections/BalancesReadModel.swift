import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// `read.balances`: available and held per account and currency. The only code that writes it.
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
        for recorded in events where recorded.streamId.hasPrefix("account-") {
            guard AccountEvent.eventTypes.contains(recorded.eventType) else { continue }
            let account = String(recorded.streamId.dropFirst("account-".count))
            let event = try AccountEvent.decode(
                eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
            for (currency, available, held) in Self.movements(event) {
                try await connection.query(
                    """
                    INSERT INTO \(unescaped: schema).balances (account_id, currency, available, held, updated_at)
                    VALUES (\(account), \(currency.code), \(available.plainText)::numeric, \(held.plainText)::numeric, \(recorded.recordedAt))
                    ON CONFLICT (account_id, currency) DO UPDATE SET
                        available = \(unescaped: schema).balances.available + EXCLUDED.available,
                        held = \(unescaped: schema).balances.held + EXCLUDED.held,
                        updated_at = EXCLUDED.updated_at
                    """, logger: logger)
            }
        }
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
}
