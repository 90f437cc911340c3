import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections

/// The transactional outbox's writer: follows the global event order (with its own checkpoint,
/// run by a `ProjectionRunner`) and turns each status change into one delivery row per matching
/// subscription, in the same transaction as the checkpoint. An exchange that never committed
/// has no events to read, so it gets no webhook; a committed one is never skipped, across
/// restarts, because the checkpoint only moves with the rows it produced.
public struct WebhookDispatcher: AsyncProjection {
    public static let checkpointName = "webhook_dispatcher"
    /// Rung (at commit) when deliveries are queued, so delivery workers wake at once.
    public static let notificationChannel = "swapline_webhooks"

    public let name = WebhookDispatcher.checkpointName
    public let market: Market

    public init(market: Market) {
        self.market = market
    }

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        // Each exchange's events so far: from the batch itself when its stream starts in the
        // batch (a creation always does), else read once from the store.
        var histories: [String: [ExchangeEvent]] = [:]
        // Each account's subscriptions (id, event types), read once per batch.
        var subscriptionsByAccount: [String: [(UUID, [String])]] = [:]
        var rows = DeliveryRows()
        for recorded in events {
            guard recorded.streamId.hasPrefix("exchange-"), ExchangeEvent.eventTypes.contains(recorded.eventType) else { continue }
            let event = try ExchangeEvent.decode(
                eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
            var history = histories[recorded.streamId] ?? []
            if history.count != Int(recorded.streamVersion) - 1 {
                history = try await EventStore.readStream(recorded.streamId, on: connection, logger: logger)
                    .prefix(Int(recorded.streamVersion) - 1)
                    .map { try ExchangeEvent.decode(eventType: $0.eventType, schemaVersion: $0.schemaVersion, data: Data($0.data.utf8)) }
            }
            history.append(event)
            histories[recorded.streamId] = history
            guard let type = WebhookEventType(event), let state = Exchange.replay(history) else { continue }
            let exchange = ExchangeView(state)
            let account = exchange.account.rawValue
            if subscriptionsByAccount[account] == nil {
                subscriptionsByAccount[account] = try await subscriptions(of: account, on: connection, logger: logger)
            }
            for (subscription, types) in subscriptionsByAccount[account]! where types.contains(type.rawValue) {
                let webhookId = WebhookPayload.newWebhookId()
                let body = WebhookPayload.body(
                    subscriptionId: subscription, webhookId: webhookId, createdAt: recorded.recordedAt, type: type, exchange: exchange,
                    market: market)
                rows.append(
                    webhookId: webhookId, subscription: subscription, account: account, exchange: Int64(exchange.id), type: type,
                    position: recorded.globalPosition, body: body)
            }
        }
        guard !rows.webhookIds.isEmpty else { return }
        // One statement for the whole batch.
        try await connection.query(
            """
            INSERT INTO webhook_deliveries
                (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body)
            SELECT w, s, a, e, n, p, t, convert_to(b, 'UTF8')
            FROM unnest(\(rows.webhookIds)::text[], \(rows.subscriptions)::uuid[], \(rows.accounts)::text[], \(rows.exchanges)::bigint[],
                        \(rows.sequences)::int[], \(rows.positions)::bigint[], \(rows.types)::text[], \(rows.bodies)::text[])
                 AS input(w, s, a, e, n, p, t, b)
            ON CONFLICT (subscription_id, event_position) DO NOTHING
            """, logger: logger)
        try await connection.query("SELECT pg_notify(\(Self.notificationChannel), '')", logger: logger)
    }

    /// The account's live subscriptions; blocked and disabled ones included, since unblocking
    /// sends what they were due.
    private func subscriptions(of account: String, on connection: PostgresConnection, logger: Logger) async throws -> [(UUID, [String])] {
        let rows = try await connection.query(
            "SELECT request_id, event_types FROM webhook_subscriptions WHERE account_id = \(account) AND deleted_at IS NULL",
            logger: logger)
        var result: [(UUID, [String])] = []
        for try await row in rows.decode((UUID, [String]).self) { result.append(row) }
        return result
    }
}

/// The delivery rows of one batch, column by column for one `unnest` insert.
struct DeliveryRows {
    var webhookIds: [String] = []
    var subscriptions: [UUID] = []
    var accounts: [String] = []
    var exchanges: [Int64] = []
    var sequences: [Int32] = []
    var positions: [Int64] = []
    var types: [String] = []
    /// The JSON bodies as text (stored as their UTF-8 bytes).
    var bodies: [String] = []

    mutating func append(
        webhookId: String, subscription: UUID, account: String, exchange: Int64, type: WebhookEventType, position: Int64, body: [UInt8]
    ) {
        webhookIds.append(webhookId)
        subscriptions.append(subscription)
        accounts.append(account)
        exchanges.append(exchange)
        sequences.append(Int32(type.sequence))
        positions.append(position)
        types.append(type.rawValue)
        bodies.append(String(decoding: body, as: UTF8.self))
    }
}
