import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier
import SwaplineTestSupport
import Testing

@Suite("Subscription service against PostgreSQL")
struct SubscriptionServiceTests {
    static let secrets = try! SecretBox(base64MasterKey: Data(repeating: 9, count: 32).base64EncodedString())

    func withService(overlap: TimeInterval = 3600, _ body: @Sendable (SubscriptionService, AccountID, TestDatabase) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let accounts = AccountService(client: database.app, secrets: Self.secrets, market: .defaults, logger: database.logger)
            let issued = try await accounts.create(name: "Webhook merchant")
            let service = SubscriptionService(
                client: database.app, secrets: Self.secrets,
                ssrfGuard: SSRFGuard(resolver: StaticHostResolver(["hooks.merchant.test": ["93.184.215.14"]])), rotationOverlap: overlap,
                logger: database.logger)
            try await body(service, issued.account, database)
        }
    }

    @Test func regenerateKeepsThePreviousSecretsEncryptedForTheOverlap() async throws {
        try await withService(overlap: 3600) { service, account, database in
            let request = SubscriptionRequest(requestId: UUID(), url: "https://hooks.merchant.test/", eventTypes: ["EXCHANGE_FAILED"])
            let created = try await service.create(account: account, request: request)
            #expect(created.serviceTypes == ["EXCHANGE"])
            let rotated = try await service.regenerate(account: account, requestId: request.requestId)
            #expect(rotated.secretKey != created.secretKey)
            #expect(rotated.webhookSecret != created.webhookSecret)
            let until = try #require(rotated.previousSecretsUntil)
            let overlap = until.timeIntervalSince(rotated.updatedAt)
            #expect(abs(overlap - 3600) < 1)
            let rows = try await database.owner.query(
                """
                SELECT previous_secret_ciphertext, previous_webhook_secret_ciphertext FROM webhook_subscriptions
                WHERE request_id = \(request.requestId)
                """)
            var previous: [(Data, Data)] = []
            for try await row in rows.decode((Data, Data).self) { previous.append(row) }
            let (sealedSecret, sealedWebhookSecret) = try #require(previous.first)
            let plainInColumn = sealedSecret.range(of: Data(created.secretKey.utf8)) != nil
            #expect(!plainInColumn)
            let openedSecret = try Self.secrets.open([UInt8](sealedSecret))
            let openedWebhookSecret = try Self.secrets.open([UInt8](sealedWebhookSecret))
            #expect(openedSecret == created.secretKey)
            #expect(openedWebhookSecret == created.webhookSecret)
        }
    }

    @Test func anEndedRotationOverlapIsNoLongerShown() async throws {
        try await withService(overlap: 0) { service, account, _ in
            let request = SubscriptionRequest(requestId: UUID(), url: "https://hooks.merchant.test/", eventTypes: ["EXCHANGE_FAILED"])
            _ = try await service.create(account: account, request: request)
            let rotated = try await service.regenerate(account: account, requestId: request.requestId)
            #expect(rotated.previousSecretsUntil == nil, "an overlap of 0 s has ended at once")
        }
    }

    @Test func aDeletedSubscriptionsRequestIdCannotBeReused() async throws {
        try await withService { service, account, _ in
            let request = SubscriptionRequest(requestId: UUID(), url: "https://hooks.merchant.test/", eventTypes: ["EXCHANGE_CREATED"])
            _ = try await service.create(account: account, request: request)
            _ = try await service.delete(account: account, requestId: request.requestId)
            var code: ErrorCode?
            do {
                _ = try await service.create(account: account, request: request)
            } catch let error as SwaplineError {
                code = error.code
            }
            #expect(code == .idempotencyKeyReused)
            let listed = try await service.list(account: account)
            #expect(listed.isEmpty)
        }
    }
}
