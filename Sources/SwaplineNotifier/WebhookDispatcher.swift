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
public struct WebhookDispatcher: SingleStatementProjection {
    public static let checkpointName = "webhook_dispatcher"
    /// Rung (at commit) when deliveries are queued, so delivery workers wake at once.
    public static let notificationChannel = "swapline_webhooks"

    public let name = WebhookDispatcher.checkpointName
    public let market: Market

    public init(market: Market) {
        self.market = market
    }

    /// A batch in at most three statements whatever its size: who subscribed to the exchanges it
    /// touches, the earlier events of the subscribed exchanges it continues, and the delivery rows
    /// with the NOTIFY, conditional on the runner's checkpoint move. (A statement per account and
    /// per exchange made the dispatcher trail the create load; each round trip of a batch adds to
    /// the lag.) A batch whose exchanges nobody subscribed to stops after the first. Returns
    /// whether the checkpoint moved; nil when the batch has no delivery to write.
    public func apply(_ events: [RecordedEvent], moving checkpoint: CheckpointMove?, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool?
    {
        let touched = events.filter { $0.streamId.hasPrefix("exchange-") && ExchangeEvent.eventTypes.contains($0.eventType) }
        guard !touched.isEmpty else { return nil }
        let subscriptionsByStream = try await subscriptions(ofExchanges: Set(touched.map(\.streamId)), on: connection, logger: logger)
        let exchangeEvents = touched.filter { subscriptionsByStream[$0.streamId] != nil }
        guard !exchangeEvents.isEmpty else { return nil }
        // Each exchange's events so far: from the batch itself when its stream starts in the
        // batch (a creation always does), else the events before the batch's first, read together.
        var firstInBatch: [String: Int64] = [:]
        for recorded in exchangeEvents where firstInBatch[recorded.streamId] == nil {
            firstInBatch[recorded.streamId] = recorded.streamVersion
        }
        var histories = try await Self.histories(before: firstInBatch.filter { $0.value > 1 }, on: connection, logger: logger)
        var changes: [(recorded: RecordedEvent, type: WebhookEventType, exchange: ExchangeView)] = []
        for recorded in exchangeEvents {
            let event = try Self.decode(recorded)
            var history = histories[recorded.streamId] ?? []
            if history.count != Int(recorded.streamVersion) - 1 {
                // Not expected (a stream's events are consecutive in the global order); read it whole.
                history = try await EventStore.readStream(recorded.streamId, on: connection, logger: logger)
                    .prefix(Int(recorded.streamVersion) - 1).map(Self.decode)
            }
            history.append(event)
            histories[recorded.streamId] = history
            guard let type = WebhookEventType(event), let state = Exchange.replay(history) else { continue }
            changes.append((recorded, type, ExchangeView(state)))
        }
        var rows = DeliveryRows()
        for (recorded, type, exchange) in changes {
            let account = exchange.account.rawValue
            let subscribers = (subscriptionsByStream[recorded.streamId] ?? []).filter { $0.1.contains(type.rawValue) }
            guard !subscribers.isEmpty else { continue }
            let data = WebhookPayload.data(type: type, exchange: exchange, market: market)
            for (subscription, _) in subscribers {
                let webhookId = WebhookPayload.webhookId(subscription: subscription, event: recorded.eventId)
                let body = WebhookPayload.body(
                    subscriptionId: subscription, webhookId: webhookId, createdAt: recorded.recordedAt, type: type, data: data)
                rows.append(
                    webhookId: webhookId, subscription: subscription, account: account, exchange: Int64(exchange.id), type: type,
                    position: recorded.globalPosition, body: body)
            }
        }
        guard !rows.webhookIds.isEmpty else { return nil }
        // One statement for the whole batch and the NOTIFY (sent at commit), both only if the
        // checkpoint moved.
        let result = try await connection.query(
            """
            WITH \(moving: checkpoint) inserted AS (
                INSERT INTO webhook_deliveries
                    (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body)
                SELECT w, s, a, e, n, p, t, convert_to(b, 'UTF8')
                FROM unnest(\(rows.webhookIds)::text[], \(rows.subscriptions)::uuid[], \(rows.accounts)::text[], \(rows.exchanges)::bigint[],
                            \(rows.sequences)::int[], \(rows.positions)::bigint[], \(rows.types)::text[], \(rows.bodies)::text[])
                     AS input(w, s, a, e, n, p, t, b)
                WHERE true\(ifMoved: checkpoint)
                ON CONFLICT (subscription_id, event_position) DO NOTHING
            ), moved AS (SELECT \(whetherMoved: checkpoint) AS moved)
            SELECT moved, CASE WHEN moved THEN pg_notify(\(Self.notificationChannel), '')::text END FROM moved
            """, logger: logger)
        for try await (moved, _) in result.decode((Bool, String?).self) { return moved }
        return false
    }

    static func decode(_ recorded: RecordedEvent) throws -> ExchangeEvent {
        try ExchangeEvent.decode(eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
    }

    /// The events of each stream before the given version, in one statement.
    static func histories(before firstVersions: [String: Int64], on connection: PostgresConnection, logger: Logger) async throws
        -> [String: [ExchangeEvent]]
    {
        guard !firstVersions.isEmpty else { return [:] }
        let rows = try await connection.query(
            """
            SELECT \(unescaped: EventStore.columns) FROM events
            JOIN unnest(\(Array(firstVersions.keys))::text[], \(Array(firstVersions.values))::bigint[]) AS continued(stream, first_version)
                ON events.stream_id = continued.stream AND events.stream_version < continued.first_version
            ORDER BY events.stream_id, events.stream_version
            """, logger: logger)
        var histories: [String: [ExchangeEvent]] = [:]
        for recorded in try await EventStore.decode(rows) {
            histories[recorded.streamId, default: []].append(try decode(recorded))
        }
        return histories
    }

    /// The live subscriptions (id, event types) of each exchange's account, by stream; blocked and
    /// disabled ones included, since unblocking sends what they were due. The account comes from
    /// the exchange's first event, in the event store itself.
    private func subscriptions(ofExchanges streams: Set<String>, on connection: PostgresConnection, logger: Logger) async throws
        -> [String: [(UUID, [String])]]
    {
        let rows = try await connection.query(
            """
            SELECT requested.stream_id, subscription.request_id, subscription.event_types
            FROM events AS requested
            JOIN webhook_subscriptions AS subscription
                ON subscription.account_id = requested.data->>'account' AND subscription.deleted_at IS NULL
            WHERE requested.stream_id = ANY(\(Array(streams))::text[]) AND requested.stream_version = 1
            """,
            logger: logger)
        var result: [String: [(UUID, [String])]] = [:]
        for try await (stream, id, types) in rows.decode((String, UUID, [String]).self) { result[stream, default: []].append((id, types)) }
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
        webhookId: String, subscription: UUID, account: String, exchange: Int64, type: WebhookEventType, position: Int64, body: String
    ) {
        webhookIds.append(webhookId)
        subscriptions.append(subscription)
        accounts.append(account)
        exchanges.append(exchange)
        sequences.append(Int32(type.sequence))
        positions.append(position)
        types.append(type.rawValue)
        bodies.append(body)
    }
}
