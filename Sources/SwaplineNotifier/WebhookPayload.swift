import Crypto
import Foundation
import SwaplineApplication
import SwaplineDomain

/// The notifications an exchange sends: one per status change.
public enum WebhookEventType: String, Sendable, CaseIterable {
    case created = "EXCHANGE_CREATED"
    case completed = "EXCHANGE_COMPLETED"
    case failed = "EXCHANGE_FAILED"

    /// The status change an event is, or nil for the events that send nothing (quoted, submitted).
    public init?(_ event: ExchangeEvent) {
        switch event {
        case .requested: self = .created
        case .completed: self = .completed
        case .failed: self = .failed
        case .quoted, .submitted: return nil
        }
    }

    /// Calypso's `level`: INFO for created, SUCCESS for completed, WARNING for failed.
    public var level: String {
        switch self {
        case .created: "INFO"
        case .completed: "SUCCESS"
        case .failed: "WARNING"
        }
    }

    /// The exchange's notification number: the creation is the first, its outcome the second.
    public var sequence: Int { self == .created ? 1 : 2 }
}

/// The body of a webhook in Calypso's shape, `data` holding the exchange object (the same one
/// `exchange/get` answers) and the per-exchange `sequence`.
public enum WebhookPayload {
    public static let service = "EXCHANGE"

    /// The webhook id of an event's delivery to a subscription, `msg_` + 32 hex digits (Standard
    /// Webhooks' style of id): the first half of SHA-256 over the two ids, so a delivery the
    /// dispatcher writes again (its batch lost in a crash, a restore to an earlier time) carries
    /// the id receivers already saw.
    public static func webhookId(subscription: UUID, event: UUID) -> String {
        var bytes = [UInt8]()
        withUnsafeBytes(of: subscription.uuid) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: event.uuid) { bytes.append(contentsOf: $0) }
        return "msg_" + CalypsoSignature.hex(SHA256.hash(data: bytes).prefix(16))
    }

    /// The `data` member, serialized: the exchange object with its `sequence`. It is the same for
    /// every subscription to the event, so the dispatcher renders it once per event, not once
    /// per subscription.
    public static func data(type: WebhookEventType, exchange: ExchangeView, market: Market) -> String {
        var data = exchange.json(market: market)
        if case .object(var members) = data {
            members.append(("sequence", .number(String(type.sequence))))
            data = .object(members)
        }
        return data.serialized()
    }

    /// The whole body for one subscription, `data` (from `data(type:exchange:market:)`) last.
    public static func body(subscriptionId: UUID, webhookId: String, createdAt: Date, type: WebhookEventType, data: String) -> String {
        let envelope = JSONValue.object([
            ("requestId", .string(subscriptionId.uuidString.lowercased())),
            ("id", .string(webhookId)),
            ("createdDate", .string(Timestamp.format(createdAt))),
            ("level", .string(type.level)),
            ("service", .string(service)),
            ("eventType", .string(type.rawValue)),
        ]).serialized()
        return envelope.dropLast() + #","data":"# + data + "}"
    }
}
