import Foundation
import Hummingbird
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier

/// Calypso's webhook subscription methods under /api/v1/subscription/webhook: create, list,
/// delete (DELETE or POST …/delete), change and regenerate. Delivery is not built yet.
struct SubscriptionController<Context: RequestContext>: Sendable {
    let subscriptions: SubscriptionService
    let authenticator: RequestAuthenticator

    func addRoutes(to router: Router<Context>) {
        router.post("/api/v1/subscription/webhook/create") { request, _ in try await self.create(request) }
        router.post("/api/v1/subscription/webhook") { request, _ in try await self.list(request) }
        router.delete("/api/v1/subscription/webhook") { request, _ in try await self.delete(request) }
        router.post("/api/v1/subscription/webhook/delete") { request, _ in try await self.delete(request) }
        router.post("/api/v1/subscription/webhook/change") { request, _ in try await self.change(request) }
        router.post("/api/v1/subscription/webhook/regenerate") { request, _ in try await self.regenerate(request) }
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
