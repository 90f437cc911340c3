import Crypto
import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain

/// A webhook subscription with its secrets decrypted, as its owner sees it.
public struct WebhookSubscription: Sendable, Equatable {
    public var requestId: UUID
    public var account: AccountID
    public var url: String
    public var eventTypes: [String]
    public var serviceTypes: [String]
    /// ACTIVE, BLOCKED or DISABLED.
    public var state: String
    public var publicKey: String
    /// The Calypso `Sign` secret (32 hex characters).
    public var secretKey: String
    /// The Standard Webhooks secret, `whsec_` + base64.
    public var webhookSecret: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Until when the secrets replaced by the last regenerate still sign, if they do.
    public var previousSecretsUntil: Date?
}

/// What a create call asks for.
public struct SubscriptionRequest: Sendable, Equatable {
    public var requestId: UUID
    public var url: String
    public var eventTypes: [String]
    public var serviceTypes: [String]

    public init(requestId: UUID, url: String, eventTypes: [String], serviceTypes: [String] = []) {
        self.requestId = requestId
        self.url = url
        self.eventTypes = eventTypes
        self.serviceTypes = serviceTypes
    }
}

/// Create, list, change, regenerate and delete an account's webhook subscriptions. Secrets are
/// stored only encrypted; every method is scoped to the calling account (another account's
/// subscription is `004`, like a missing one).
public struct SubscriptionService: Sendable {
    public static let eventTypes = ["EXCHANGE_CREATED", "EXCHANGE_COMPLETED", "EXCHANGE_FAILED"]
    public static let serviceTypes = ["EXCHANGE"]

    public let client: PostgresClient
    public let secrets: SecretBox
    public let ssrfGuard: SSRFGuard
    /// How long the secrets replaced by a regenerate keep signing beside the new ones.
    public let rotationOverlap: TimeInterval
    public let logger: Logger
    public let now: @Sendable () -> Date

    public init(
        client: PostgresClient, secrets: SecretBox, ssrfGuard: SSRFGuard, rotationOverlap: TimeInterval = 24 * 3600, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.client = client
        self.secrets = secrets
        self.ssrfGuard = ssrfGuard
        self.rotationOverlap = rotationOverlap
        self.logger = logger
        self.now = now
    }

    /// A new `whsec_` secret: base64 of 32 random bytes.
    public static func newWebhookSecret() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    /// Creates the subscription; the same `requestId` with the same request answers the existing
    /// one, with a different request `016`.
    public func create(account: AccountID, request: SubscriptionRequest) async throws -> WebhookSubscription {
        let eventTypes = try Self.validatedEventTypes(request.eventTypes)
        let serviceTypes = try Self.validatedServiceTypes(request.serviceTypes)
        let url = request.url
        _ = try await ssrfGuard.check(url)
        let publicKey = Credentials.randomHex(bytes: 16)
        let secretKey = Credentials.randomHex(bytes: 16)
        let webhookSecret = Self.newWebhookSecret()
        let sealedSecret = Data(try secrets.seal(secretKey))
        let sealedWebhookSecret = Data(try secrets.seal(webhookSecret))
        let at = now()
        let rows = try await client.query(
            """
            INSERT INTO webhook_subscriptions
                (request_id, account_id, url, event_types, service_types, public_key, secret_ciphertext, webhook_secret_ciphertext, created_at, updated_at)
            VALUES (\(request.requestId), \(account.rawValue), \(url), \(eventTypes), \(serviceTypes), \(publicKey), \(sealedSecret),
                    \(sealedWebhookSecret), \(at), \(at))
            ON CONFLICT (request_id) DO NOTHING
            RETURNING request_id
            """, logger: logger)
        var inserted = false
        for try await _ in rows.decode(UUID.self) { inserted = true }
        if inserted {
            return WebhookSubscription(
                requestId: request.requestId, account: account, url: url, eventTypes: eventTypes, serviceTypes: serviceTypes, state: "ACTIVE",
                publicKey: publicKey, secretKey: secretKey, webhookSecret: webhookSecret, createdAt: at, updatedAt: at, previousSecretsUntil: nil)
        }
        let reused = SwaplineError(.idempotencyKeyReused, "requestId \(request.requestId.uuidString.lowercased()) was already used with another request")
        guard let existing = try await load(account: account, requestId: request.requestId, includingDeleted: true), existing.deleted == false
        else { throw reused }
        let same = existing.subscription.url == url && Set(existing.subscription.eventTypes) == Set(eventTypes)
            && Set(existing.subscription.serviceTypes) == Set(serviceTypes)
        guard same else { throw reused }
        return existing.subscription
    }

    /// The account's subscriptions that are not deleted, oldest first.
    public func list(account: AccountID) async throws -> [WebhookSubscription] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM webhook_subscriptions
            WHERE account_id = \(account.rawValue) AND deleted_at IS NULL ORDER BY created_at, request_id
            """, logger: logger)
        var result: [WebhookSubscription] = []
        for try await row in rows.decode(Row.self) { result.append(try decode(row, account: account).subscription) }
        return result
    }

    public func get(account: AccountID, requestId: UUID) async throws -> WebhookSubscription {
        guard let found = try await load(account: account, requestId: requestId, includingDeleted: false) else { throw notFound(requestId) }
        return found.subscription
    }

    /// Soft-deletes the subscription: it is no longer listed nor delivered to.
    public func delete(account: AccountID, requestId: UUID) async throws -> Date {
        let at = now()
        let rows = try await client.query(
            """
            UPDATE webhook_subscriptions SET deleted_at = \(at), updated_at = \(at)
            WHERE request_id = \(requestId) AND account_id = \(account.rawValue) AND deleted_at IS NULL
            RETURNING request_id
            """, logger: logger)
        for try await _ in rows.decode(UUID.self) { return at }
        throw notFound(requestId)
    }

    /// Changes the URL (checked by the SSRF guard again) and/or the event types.
    public func change(account: AccountID, requestId: UUID, url: String?, eventTypes: [String]?) async throws -> WebhookSubscription {
        guard url != nil || eventTypes != nil else { throw SwaplineError.badRequest("payload must give url or notificationEventTypes to change") }
        let types = try eventTypes.map { try Self.validatedEventTypes($0) }
        if let url { _ = try await ssrfGuard.check(url) }
        let rows = try await client.query(
            """
            UPDATE webhook_subscriptions
            SET url = COALESCE(\(url), url), event_types = COALESCE(\(types), event_types), updated_at = \(now())
            WHERE request_id = \(requestId) AND account_id = \(account.rawValue) AND deleted_at IS NULL
            RETURNING request_id
            """, logger: logger)
        var found = false
        for try await _ in rows.decode(UUID.self) { found = true }
        guard found else { throw notFound(requestId) }
        return try await get(account: account, requestId: requestId)
    }

    /// New `secretKey` and `webhookSecret`; the replaced ones keep signing for `rotationOverlap`.
    public func regenerate(account: AccountID, requestId: UUID) async throws -> WebhookSubscription {
        let secretKey = Credentials.randomHex(bytes: 16)
        let webhookSecret = Self.newWebhookSecret()
        let sealedSecret = Data(try secrets.seal(secretKey))
        let sealedWebhookSecret = Data(try secrets.seal(webhookSecret))
        let at = now()
        let until = at.addingTimeInterval(rotationOverlap)
        let rows = try await client.query(
            """
            UPDATE webhook_subscriptions
            SET previous_secret_ciphertext = secret_ciphertext, previous_webhook_secret_ciphertext = webhook_secret_ciphertext,
                previous_secrets_until = \(until), secret_ciphertext = \(sealedSecret), webhook_secret_ciphertext = \(sealedWebhookSecret),
                updated_at = \(at)
            WHERE request_id = \(requestId) AND account_id = \(account.rawValue) AND deleted_at IS NULL
            RETURNING request_id
            """, logger: logger)
        var found = false
        for try await _ in rows.decode(UUID.self) { found = true }
        guard found else { throw notFound(requestId) }
        return try await get(account: account, requestId: requestId)
    }

    /// Makes a BLOCKED (or DISABLED) subscription ACTIVE again and queues at once everything
    /// still pending for it, plus what died since it was blocked: those failed while it was blocked.
    public func unblock(account: AccountID, requestId: UUID) async throws -> WebhookSubscription {
        let logger = self.logger
        let at = now()
        let found = try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE webhook_subscriptions s SET state = 'ACTIVE', blocked_at = NULL, updated_at = \(at)
                FROM (SELECT request_id, blocked_at FROM webhook_subscriptions
                      WHERE request_id = \(requestId) AND account_id = \(account.rawValue) AND deleted_at IS NULL FOR UPDATE) old
                WHERE s.request_id = old.request_id
                RETURNING old.blocked_at
                """, logger: logger)
            var found = false
            var blockedAt: Date?
            for try await row in rows.decode(Date?.self) {
                found = true
                blockedAt = row
            }
            guard found else { return false }
            try await connection.query(
                """
                UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = now(), round_attempts = 0, updated_at = now()
                WHERE subscription_id = \(requestId)
                  AND (status = 'PENDING' OR (status = 'DEAD' AND \(blockedAt)::timestamptz IS NOT NULL AND updated_at >= \(blockedAt)))
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(WebhookDispatcher.notificationChannel), '')", logger: logger)
            return true
        }
        guard found else { throw notFound(requestId) }
        return try await get(account: account, requestId: requestId)
    }

    // MARK: - Validation

    static func validatedEventTypes(_ types: [String]) throws(SwaplineError) -> [String] {
        guard !types.isEmpty else {
            throw .badRequest("payload.notificationEventTypes must name at least one of \(eventTypes.joined(separator: ", "))")
        }
        var result: [String] = []
        for type in types {
            guard eventTypes.contains(type) else {
                throw .badRequest("payload.notificationEventTypes has \(type.prefix(64)); allowed: \(eventTypes.joined(separator: ", "))")
            }
            if !result.contains(type) { result.append(type) }
        }
        return result
    }

    static func validatedServiceTypes(_ types: [String]) throws(SwaplineError) -> [String] {
        if types.isEmpty { return serviceTypes }
        var result: [String] = []
        for type in types {
            guard serviceTypes.contains(type) else {
                throw .badRequest("payload.notificationServiceTypes has \(type.prefix(64)); allowed: \(serviceTypes.joined(separator: ", "))")
            }
            if !result.contains(type) { result.append(type) }
        }
        return result
    }

    // MARK: - Rows

    private func notFound(_ requestId: UUID) -> SwaplineError {
        .notFound("subscription \(requestId.uuidString.lowercased()) not found")
    }

    static let columns = """
        request_id, url, event_types, service_types, state, public_key, secret_ciphertext, webhook_secret_ciphertext, \
        created_at, updated_at, previous_secrets_until, deleted_at IS NOT NULL
        """
    typealias Row = (UUID, String, [String], [String], String, String, Data, Data, Date, Date, Date?, Bool)

    private func load(account: AccountID, requestId: UUID, includingDeleted: Bool) async throws -> (subscription: WebhookSubscription, deleted: Bool)? {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM webhook_subscriptions
            WHERE request_id = \(requestId) AND account_id = \(account.rawValue) AND (\(includingDeleted) OR deleted_at IS NULL)
            """, logger: logger)
        for try await row in rows.decode(Row.self) { return try decode(row, account: account) }
        return nil
    }

    private func decode(_ row: Row, account: AccountID) throws -> (subscription: WebhookSubscription, deleted: Bool) {
        let subscription = WebhookSubscription(
            requestId: row.0, account: account, url: row.1, eventTypes: row.2, serviceTypes: row.3, state: row.4, publicKey: row.5,
            secretKey: try secrets.open([UInt8](row.6)), webhookSecret: try secrets.open([UInt8](row.7)), createdAt: row.8, updatedAt: row.9,
            // An overlap that has ended is no longer part of the subscription.
            previousSecretsUntil: row.10.flatMap { $0 > now() ? $0 : nil })
        return (subscription, row.11)
    }
}
