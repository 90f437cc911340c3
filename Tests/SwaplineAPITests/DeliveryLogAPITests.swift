import Foundation
import PostgresNIO
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineNotifier
import SwaplineProjections
import SwaplineTestSupport
import Testing

/// The delivery log methods over HTTP. No worker runs here: the subscriptions point at a name
/// that resolves (by the harness' table) to a public address, which no test may ever call.
@Suite("Webhook delivery log API against PostgreSQL")
struct DeliveryLogAPITests {
    static let deliveries = "/api/v1/subscription/webhook/deliveries"

    func subscribe(_ api: APIHarness, _ merchant: Merchant) async throws -> String {
        let requestId = UUID().uuidString.lowercased()
        let created = try await api.call(
            "/api/v1/subscription/webhook/create", merchant,
            payload: #"{"requestId": "\#(requestId)", "notificationEventTypes": ["EXCHANGE_CREATED"], "url": "https://hooks.merchant.test/"}"#)
        #expect(created.status == 200)
        return requestId
    }

    /// Creates an exchange and runs the dispatcher until its delivery is queued.
    func queueDelivery(_ api: APIHarness, _ merchant: Merchant) async throws {
        let before = try await count(api)
        _ = try await api.exchanges.create(
            account: merchant.account, request: CreateExchangeRequest(pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), amountText: "100"),
            metadata: EventMetadata(actor: "test"))
        let dispatcher = ProjectionRunner(projection: WebhookDispatcher(market: api.market), client: api.database.app, logger: api.database.logger)
        _ = try await eventually("the delivery queued") {
            try await dispatcher.runOnce()
            return try await count(api) > before ? true : nil
        }
    }

    func count(_ api: APIHarness) async throws -> Int {
        let rows = try await api.database.owner.query("SELECT count(*) FROM webhook_deliveries")
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    func list(_ response: APIResponse) -> [JSONValue] {
        guard case .array(let values)? = response.json["deliveries"] else { return [] }
        return values
    }

    @Test func listRedeliverRecoverAndUnblock() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let requestId = try await subscribe(api, merchant)
            try await queueDelivery(api, merchant)
            try await queueDelivery(api, merchant)

            let page = try await api.call(Self.deliveries, merchant, payload: #"{"requestId": "\#(requestId)", "limit": 1}"#)
            #expect(page.status == 200)
            let first = try #require(list(page).first)
            #expect(list(page).count == 1)
            #expect(first["status"] == .string("PENDING"))
            #expect(first["eventType"] == .string("EXCHANGE_CREATED"))
            #expect(first["sequence"] == .number("1"))
            #expect(first["attempts"] == .array([]))
            guard case .string(let webhookId)? = first["webhookId"] else { Issue.record("no webhookId"); return }
            #expect(webhookId.hasPrefix("msg_"))
            let cursor = try #require(page.string("nextCursor"))
            let next = try await api.call(Self.deliveries, merchant, payload: #"{"requestId": "\#(requestId)", "cursor": "\#(cursor)"}"#)
            #expect(list(next).count == 1)
            #expect(next.json["nextCursor"] == .null)
            guard case .number(let exchangeId)? = list(next).first?["exchangeId"] else { Issue.record("no exchangeId"); return }
            let filtered = try await api.call(
                Self.deliveries, merchant, payload: #"{"requestId": "\#(requestId)", "exchangeId": \#(exchangeId), "status": "PENDING"}"#)
            #expect(list(filtered).count == 1)
            let delivered = try await api.call(Self.deliveries, merchant, payload: #"{"requestId": "\#(requestId)", "status": "DELIVERED"}"#)
            #expect(list(delivered).isEmpty)

            // A dead delivery (as if its retries ran out) is recovered by time range, or redelivered alone.
            try await api.database.owner.query("UPDATE webhook_deliveries SET status = 'DEAD', attempts = 20")
            guard case .number(let deliveryId)? = first["deliveryId"] else { Issue.record("no deliveryId"); return }
            let redelivered = try await api.call("/api/v1/subscription/webhook/redeliver", merchant, payload: #"{"deliveryId": \#(deliveryId)}"#)
            #expect(redelivered.status == 200)
            #expect(redelivered.string("status") == "PENDING")
            let recovered = try await api.call(
                "/api/v1/subscription/webhook/recover", merchant,
                payload: #"{"requestId": "\#(requestId)", "since": "2000-01-01", "until": "2100-01-01T00:00:00Z"}"#)
            // The dead one and the redelivered one (pending after failed attempts) alike.
            #expect(recovered.number("queued") == "2")

            try await api.database.owner.query("UPDATE webhook_subscriptions SET state = 'BLOCKED', blocked_at = now()")
            let unblocked = try await api.call("/api/v1/subscription/webhook/unblock", merchant, payload: #"{"requestId": "\#(requestId)"}"#)
            #expect(unblocked.status == 200)
            #expect(unblocked.string("state") == "ACTIVE")
        }
    }

    @Test func anotherAccountsDeliveriesAreNotFoundAndBadInputIs001() async throws {
        try await APIHarness.with { api in
            let owner = try await api.merchant()
            let stranger = try await api.merchant()
            let requestId = try await subscribe(api, owner)
            try await queueDelivery(api, owner)
            let byId = #"{"requestId": "\#(requestId)"}"#
            let log = try await api.call(Self.deliveries, stranger, payload: byId)
            #expect(log.errorCode == "004")
            let unblock = try await api.call("/api/v1/subscription/webhook/unblock", stranger, payload: byId)
            #expect(unblock.errorCode == "004")
            let recover = try await api.call(
                "/api/v1/subscription/webhook/recover", stranger, payload: #"{"requestId": "\#(requestId)", "since": "2000-01-01", "until": "2100-01-01"}"#)
            #expect(recover.errorCode == "004")
            let ownLog = try await api.call(Self.deliveries, owner, payload: byId)
            guard case .number(let deliveryId)? = list(ownLog).first?["deliveryId"] else { Issue.record("no deliveryId"); return }
            let redeliver = try await api.call("/api/v1/subscription/webhook/redeliver", stranger, payload: #"{"deliveryId": \#(deliveryId)}"#)
            #expect(redeliver.errorCode == "004")

            for payload in [
                #"{"requestId": "\#(requestId)", "status": "LOST"}"#, #"{"requestId": "\#(requestId)", "limit": 501}"#,
                #"{"requestId": "\#(requestId)", "cursor": "abc"}"#, #"{"requestId": "not-a-uuid"}"#,
                #"{"requestId": "\#(requestId)", "exchangeId": -1}"#,
            ] {
                let response = try await api.call(Self.deliveries, owner, payload: payload)
                #expect(response.status == 400, "\(payload)")
                #expect(response.errorCode == "001", "\(payload)")
            }
            let backwards = try await api.call(
                "/api/v1/subscription/webhook/recover", owner, payload: #"{"requestId": "\#(requestId)", "since": "2026-02-01", "until": "2026-01-01"}"#)
            #expect(backwards.errorCode == "001")
            let missing = try await api.call("/api/v1/subscription/webhook/recover", owner, payload: byId)
            #expect(missing.errorCode == "001")

            // Found by scripts/contract-test: null optional arguments are absent (they were `001`).
            let nulls = try await api.call(
                Self.deliveries, owner, payload: #"{"requestId": "\#(requestId)", "status": null, "exchangeId": null, "cursor": null, "limit": null}"#)
            #expect(nulls.status == 200, "\(nulls.json.serialized())")
            #expect(list(nulls).count == 1)
            let noDelivery = try await api.call("/api/v1/subscription/webhook/redeliver", owner, payload: #"{"deliveryId": 999999}"#)
            #expect(noDelivery.errorCode == "004")
        }
    }
}
