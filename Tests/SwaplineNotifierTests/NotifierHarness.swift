import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import ServiceLifecycleTestKit
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineNotifier
import SwaplineProjections
import SwaplineTestSupport
import Synchronization
import Testing

struct UnknownHost: Error {}

/// A resolver a test can re-point mid-test, to play DNS rebinding; it never asks real DNS.
final class SwitchableResolver: HostResolver {
    private let table = Mutex<[String: [IPAddress]]>([:])
    func point(_ host: String, to addresses: [String]) { table.withLock { $0[host] = addresses.map { IPAddress(literal: $0)! } } }
    func resolve(host: String) async throws -> [IPAddress] {
        guard let addresses = table.withLock({ $0[host] }) else { throw UnknownHost() }
        return addresses
    }
}

let usdtBTC = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))

/// Accounts, exchanges, subscriptions, the dispatcher and delivery workers over one test database.
struct NotifierHarness: Sendable {
    static let secrets = try! SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
    /// Only loopback is opened, as in local development; tests never reach another address.
    static let loopback = [IPNetwork("127.0.0.0/8")!]

    let database: TestDatabase
    let accounts: AccountService
    let exchanges: ExchangeService
    let subscriptions: SubscriptionService
    let store: DeliveryStore
    let resolver: SwitchableResolver
    let ssrfGuard: SSRFGuard
    let dispatcher: ProjectionRunner

    static func with(allowedNetworks: [IPNetwork] = loopback, _ body: @Sendable (NotifierHarness) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let resolver = SwitchableResolver()
            let ssrfGuard = SSRFGuard(allowedNetworks: allowedNetworks, resolver: resolver)
            let harness = NotifierHarness(
                database: database,
                accounts: AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger),
                exchanges: ExchangeService(client: database.app, market: .defaults, logger: database.logger),
                subscriptions: SubscriptionService(client: database.app, secrets: secrets, ssrfGuard: ssrfGuard, logger: database.logger),
                store: DeliveryStore(client: database.app, secrets: secrets, logger: database.logger),
                resolver: resolver, ssrfGuard: ssrfGuard,
                dispatcher: ProjectionRunner(projection: WebhookDispatcher(market: .defaults), client: database.app, logger: database.logger))
            try await body(harness)
        }
    }

    func merchant() async throws -> AccountID {
        let account = try await accounts.create(name: "Webhook merchant").account
        _ = try await accounts.deposit(account: account, currency: Currency("USDT_TRX"), amountText: "100000")
        return account
    }

    func subscribe(_ account: AccountID, url: String, types: [String] = WebhookEventType.allCases.map(\.rawValue)) async throws
        -> WebhookSubscription
    {
        try await subscriptions.create(account: account, request: SubscriptionRequest(requestId: UUID(), url: url, eventTypes: types))
    }

    func exchange(_ account: AccountID, amount: String = "100") async throws -> ExchangeState {
        try await exchanges.create(
            account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: amount), metadata: EventMetadata(actor: "test"))
    }

    /// Carries every requested exchange to COMPLETED (or FAILED with `failing`).
    func settle(failing: Bool = false) async throws {
        let venue = SimulatedVenue(client: database.app, failureRate: failing ? 1 : 0, logger: database.logger)
        let worker = ExecutionWorker(client: database.app, venue: venue, market: .defaults, logger: database.logger)
        while try await worker.runOnce() > 0 {}
    }

    /// Runs the dispatcher until at least `count` deliveries exist (the global read waits for
    /// other transactions of the test server, so this polls).
    func dispatch(expecting count: Int) async throws {
        // Within a minute: the horizon is the whole cluster's, not this test database's, so a
        // long statement of another test running in parallel (a rebuild's batch, a big seed)
        // pauses this dispatcher too (a CI run once waited more than 15 s).
        _ = try await eventually("\(count) deliveries queued", within: 60) {
            try await dispatcher.runOnce()
            let queued = try await deliveryCount()
            return queued >= count ? queued : nil
        }
    }

    /// Waits until every pending delivery's retry is due, so a test can show it is not sent.
    func waitUntilEveryPendingDeliveryIsDue() async throws {
        _ = try await eventually("every pending delivery due") {
            let rows = try await database.owner.query(
                "SELECT COALESCE(bool_and(next_attempt_at <= now()), true) FROM webhook_deliveries WHERE status = 'PENDING'")
            for try await due in rows.decode(Bool.self) where due { return true }
            return nil
        }
    }

    func deliveryCount(status: String? = nil) async throws -> Int {
        let rows = try await database.owner.query(
            "SELECT count(*) FROM webhook_deliveries WHERE (\(status)::text IS NULL OR status = \(status))")
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    func sender(timeoutSeconds: Double = 5) -> WebhookSender {
        WebhookSender(ssrfGuard: ssrfGuard, connectTimeoutSeconds: 2, timeoutSeconds: timeoutSeconds, logger: database.logger)
    }

    func worker(
        delays: [Double] = [0.05, 0.05, 0.05], timeoutSeconds: Double = 5, blockErrors: Int = 100, concurrency: Int = 16
    ) -> DeliveryWorker {
        DeliveryWorker(
            store: store, sender: sender(timeoutSeconds: timeoutSeconds), policy: RetryPolicy(delays: delays, jitter: 0),
            concurrency: concurrency, timeoutSeconds: timeoutSeconds, blockErrors: blockErrors, logger: database.logger)
    }

    /// Runs `worker` (and the dispatcher) as the server does until `body` is done, then shuts
    /// them down gracefully.
    func running<T: Sendable>(_ worker: DeliveryWorker, _ body: @Sendable () async throws -> T) async throws -> T {
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await worker.run()
                    return nil
                }
                group.addTask {
                    try await dispatcher.run()
                    return nil
                }
                let result: T
                do {
                    result = try await body()
                } catch {
                    trigger.triggerGracefulShutdown()
                    throw error
                }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            }
        }
    }

    func log(_ account: AccountID, _ subscription: WebhookSubscription, status: String? = nil) async throws -> [DeliveryRecord] {
        try await store.list(
            account: account, subscriptionId: subscription.requestId, status: status, exchangeId: nil, cursor: nil, limit: 500
        ).deliveries
    }

    func state(of subscription: WebhookSubscription, _ account: AccountID) async throws -> String {
        try await subscriptions.get(account: account, requestId: subscription.requestId).state
    }
}

/// Whether the request carries valid signatures of both kinds for this subscription.
func verifies(_ received: WebhookReceiver.Received, _ subscription: WebhookSubscription) -> Bool {
    guard received.headers["key"] == subscription.publicKey,
        let sign = received.headers["sign"], CalypsoSignature.isValid(signature: sign, body: received.body, secret: subscription.secretKey),
        let signature = received.headers["webhook-signature"], let timestamp = received.headers["webhook-timestamp"].flatMap({ Int64($0) })
    else { return false }
    return WebhookSignature.verifyStandard(
        header: signature, webhookId: received.webhookId, timestamp: timestamp, body: received.body, secret: subscription.webhookSecret)
}
