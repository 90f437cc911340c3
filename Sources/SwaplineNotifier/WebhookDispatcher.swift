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
        var streams: [String: [ExchangeEvent]] = [:]
        var queued = 0
        for recorded in events {
            guard recorded.streamId.hasPrefix("exchange-"), ExchangeEvent.eventTypes.contains(recorded.eventType) else { continue }
            let event = try ExchangeEvent.decode(
                eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
            guard let type = WebhookEventType(event) else { continue }
            // The exchange as it was right after this event: its stream up to this version.
            if streams[recorded.streamId] == nil {
                streams[recorded.streamId] = try await EventStore.readStream(recorded.streamId, on: connection, logger: logger)
                    .map { try ExchangeEvent.decode(eventType: $0.eventType, schemaVersion: $0.schemaVersion, data: Data($0.data.utf8)) }
            }
            let history = streams[recorded.streamId]!.prefix(Int(recorded.streamVersion))
            guard let state = Exchange.replay(Array(history)) else { continue }
            let exchange = ExchangeView(state)
            queued += try await queue(type: type, exchange: exchange, at: recorded, on: connection, logger: logger)
        }
        if queued > 0 {
            try await connection.query("SELECT pg_notify(\(Self.notificationChannel), '')", logger: logger)
        }
    }

    /// One delivery per subscription of the exchange's account that wants this event type.
    /// Blocked and disabled subscriptions get theirs too: unblocking sends them.
    private func queue(
        type: WebhookEventType, exchange: ExchangeView, at recorded: RecordedEvent, on connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT request_id FROM webhook_subscriptions
            WHERE account_id = \(exchange.account.rawValue) AND deleted_at IS NULL AND \(type.rawValue) = ANY (event_types)
            """, logger: logger)
        var subscriptions: [UUID] = []
        for try await id in rows.decode(UUID.self) { subscriptions.append(id) }
        for subscription in subscriptions {
            let webhookId = WebhookPayload.newWebhookId()
            let body = WebhookPayload.body(
                subscriptionId: subscription, webhookId: webhookId, createdAt: recorded.recordedAt, type: type, exchange: exchange,
                market: market)
            try await connection.query(
                """
                INSERT INTO webhook_deliveries
                    (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body)
                VALUES (\(webhookId), \(subscription), \(exchange.account.rawValue), \(Int64(exchange.id)), \(type.sequence),
                        \(recorded.globalPosition), \(type.rawValue), \(Data(body)))
                ON CONFLICT (subscription_id, event_position) DO NOTHING
                """, logger: logger)
        }
        return subscriptions.count
    }
}
