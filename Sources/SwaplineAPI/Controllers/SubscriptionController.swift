import Foundation
import Hummingbird
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier

/// Calypso's webhook subscription methods under /api/v1/subscription/webhook: create, list,
/// delete (DELETE or POST …/delete), change, regenerate, unblock, and the delivery log:
/// deliveries, redeliver, recover.
struct SubscriptionController<Context: RequestContext>: Sendable {
    let subscriptions: SubscriptionService
    let deliveries: DeliveryStore
    let authenticator: RequestAuthenticator

    static var maximumPageSize: Int { 500 }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/v1/subscription/webhook/create") { request, _ in try await self.create(request) }
        router.post("/api/v1/subscription/webhook") { request, _ in try await self.list(request) }
        router.delete("/api/v1/subscription/webhook") { request, _ in try await self.delete(request) }
        router.post("/api/v1/subscription/webhook/delete") { request, _ in try await self.delete(request) }
        router.post("/api/v1/subscription/webhook/change") { request, _ in try await self.change(request) }
        router.post("/api/v1/subscription/webhook/regenerate") { request, _ in try await self.regenerate(request) }
        router.post("/api/v1/subscription/webhook/unblock") { request, _ in try await self.unblock(request) }
        router.post("/api/v1/subscription/webhook/deliveries") { request, _ in try await self.deliveryLog(request) }
        router.post("/api/v1/subscription/webhook/redeliver") { request, _ in try await self.redeliver(request) }
        router.post("/api/v1/subscription/webhook/recover") { request, _ in try await self.recover(request) }
    }

    func unblock(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let requestId = try signed.payload.uuid("requestId")
        let subscription = try await subscriptions.unblock(account: signed.account, requestId: requestId)
        return .json(Self.render(subscription))
    }

    func deliveryLog(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let requestId = try payload.uuid("requestId")
        let status = try payload.optionalString("status", maxLength: 16)
        if let status, !DeliveryStore.statuses.contains(status) {
            throw SwaplineError.badRequest("payload.status must be one of \(DeliveryStore.statuses.joined(separator: ", "))")
        }
        let exchangeId = payload.has("exchangeId") ? try payload.identifier("exchangeId") : nil
        var cursor: Int64?
        if let text = try payload.optionalString("cursor", maxLength: 20) {
            guard let value = Int64(text), value > 0 else { throw SwaplineError.badRequest("payload.cursor is not a cursor this API returned") }
            cursor = value
        }
        var limit = 100
        if payload.has("limit") {
            let value = try payload.identifier("limit")
            guard value <= Self.maximumPageSize else {
                throw SwaplineError.badRequest("payload.limit must be an integer from 1 to \(Self.maximumPageSize)")
            }
            limit = Int(value)
        }
        let page = try await deliveries.list(
            account: signed.account, subscriptionId: requestId, status: status, exchangeId: exchangeId, cursor: cursor, limit: limit)
        return .json(
            .object([
                ("deliveries", .array(page.deliveries.map(Self.render))),
                ("nextCursor", page.nextCursor.map { .string(String($0)) } ?? .null),
            ]))
    }

    func redeliver(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let deliveryId = try signed.payload.identifier("deliveryId")
        let delivery = try await deliveries.redeliver(account: signed.account, deliveryId: deliveryId)
        return .json(Self.render(delivery))
    }

    func recover(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let requestId = try payload.uuid("requestId")
        guard let since = try payload.optionalTime("since") else { throw SwaplineError.badRequest("payload.since is required") }
        guard let until = try payload.optionalTime("until") else { throw SwaplineError.badRequest("payload.until is required") }
        guard since < until else { throw SwaplineError.badRequest("payload.since must be before payload.until") }
        let queued = try await deliveries.recover(account: signed.account, subscriptionId: requestId, since: since, until: until)
        return .json(.object([("queued", .number(String(queued)))]))
    }

    /// A delivery of the log with its attempts.
    static func render(_ delivery: DeliveryRecord) -> JSONValue {
        .object([
            ("deliveryId", .number(String(delivery.deliveryId))),
            ("webhookId", .string(delivery.webhookId)),
            ("requestId", .string(delivery.subscriptionId.uuidString.lowercased())),
            ("eventType", .string(delivery.eventType)),
            ("exchangeId", .number(String(delivery.exchangeId))),
            ("sequence", .number(String(delivery.sequence))),
            ("status", .string(delivery.status)),
            ("createdDate", .string(Timestamp.format(delivery.createdAt))),
            ("nextAttemptDate", delivery.nextAttemptAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("deliveredDate", delivery.deliveredAt.map { .string(Timestamp.format($0)) } ?? .null),
            (
                "attempts",
                .array(
                    delivery.attempts.map { attempt in
                        .object([
                            ("at", .string(Timestamp.format(attempt.at))),
                            ("httpStatus", attempt.httpStatus.map { .number(String($0)) } ?? .null),
                            ("latencyMs", .number(String(attempt.latencyMilliseconds))),
                            ("error", attempt.error.map(JSONValue.string) ?? .null),
                            ("response", attempt.responseExcerpt.map(JSONValue.string) ?? .null),
                        ])
                    })
            ),
        ])
    }

    func create(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let subscriptionRequest = SubscriptionRequest(
            requestId: try payload.uuid("requestId"),
            url: try payload.string("url", maxLength: SSRFGuard.maximumURLLength),
            eventTypes: try payload.optionalStrings("notificationEventTypes") ?? [],
            serviceTypes: try payload.optionalStrings("notificationServiceTypes") ?? [])
        let subscription = try await subscriptions.create(account: signed.account, request: subscriptionRequest)
        return .json(Self.render(subscription))
    }

    func list(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let all = try await subscriptions.list(account: signed.account)
        return .json(.object([("subscriptions", .array(all.map(Self.render)))]))
    }

    func delete(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let requestId = try signed.payload.uuid("requestId")
        let deletedAt = try await subscriptions.delete(account: signed.account, requestId: requestId)
        return .json(
            .object([
                ("requestId", .string(requestId.uuidString.lowercased())),
                ("deleted", .bool(true)),
                ("deletedDate", .string(Timestamp.format(deletedAt))),
            ]))
    }

    func change(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let requestId = try payload.uuid("requestId")
        let url = try payload.optionalString("url", maxLength: SSRFGuard.maximumURLLength)
        let eventTypes = try payload.optionalStrings("notificationEventTypes")
        let subscription = try await subscriptions.change(account: signed.account, requestId: requestId, url: url, eventTypes: eventTypes)
        return .json(Self.render(subscription))
    }

    func regenerate(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let requestId = try signed.payload.uuid("requestId")
        let subscription = try await subscriptions.regenerate(account: signed.account, requestId: requestId)
        return .json(Self.render(subscription))
    }

    /// The subscription object: Calypso's fields plus `notificationServiceTypes`, `state` and `webhookSecret`.
    static func render(_ subscription: WebhookSubscription) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("requestId", .string(subscription.requestId.uuidString.lowercased())),
            ("url", .string(subscription.url)),
            ("notificationEventTypes", .array(subscription.eventTypes.map(JSONValue.string))),
            ("notificationServiceTypes", .array(subscription.serviceTypes.map(JSONValue.string))),
            ("state", .string(subscription.state)),
            ("publicKey", .string(subscription.publicKey)),
            ("secretKey", .string(subscription.secretKey)),
            ("webhookSecret", .string(subscription.webhookSecret)),
            ("createdDate", .string(Timestamp.format(subscription.createdAt))),
        ]
        if let until = subscription.previousSecretsUntil {
            members.append(("previousSecretsValidUntil", .string(Timestamp.format(until))))
        }
        return .object(members)
    }
}

extension Payload {
    /// A UUID given as a string.
    func uuid(_ field: String) throws(SwaplineError) -> UUID {
        let text = try string(field, maxLength: 64)
        guard let id = UUID(uuidString: text) else { throw .badRequest("payload.\(field) must be a UUID, got \"\(text)\"") }
        return id
    }

    /// An array of strings (at most 16), or nil when absent.
    func optionalStrings(_ field: String) throws(SwaplineError) -> [String]? {
        switch value[field] {
        case nil, .null?: return nil
        case .array(let values)?:
            guard values.count <= 16 else { throw .badRequest("payload.\(field) has more than 16 entries") }
            var result: [String] = []
            for value in values {
                guard case .string(let text) = value else {
                    throw .badRequest("payload.\(field) must be an array of strings, got \(value.kindDescription) in it")
                }
                result.append(text)
            }
            return result
        case let other?: throw .badRequest("payload.\(field) must be an array of strings, got \(other.kindDescription)")
        }
    }
}
