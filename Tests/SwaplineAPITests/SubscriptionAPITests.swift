import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier
import SwaplineTestSupport
import Testing

@Suite("Webhook subscription API against PostgreSQL")
struct SubscriptionAPITests {
    static let create = "/api/v1/subscription/webhook/create"
    static let list = "/api/v1/subscription/webhook"

    func newRequestId() -> String { UUID().uuidString.lowercased() }

    func createPayload(_ requestId: String, url: String = "https://hooks.merchant.test/swapline", events: String = #"["EXCHANGE_COMPLETED", "EXCHANGE_FAILED"]"#)
        -> String
    {
        #"{"requestId": "\#(requestId)", "notificationEventTypes": \#(events), "notificationServiceTypes": ["EXCHANGE"], "url": "\#(url)"}"#
    }

    func strings(_ value: JSONValue?) -> [String] {
        guard case .array(let values)? = value else { return [] }
        var result: [String] = []
        for case .string(let text) in values { result.append(text) }
        return result
    }

    func subscriptions(_ response: APIResponse) -> [JSONValue] {
        guard case .array(let values)? = response.json["subscriptions"] else { return [] }
        return values
    }

    /// A signed call with another HTTP method (Calypso deletes with `DELETE`).
    func call(_ api: APIHarness, _ method: HTTPRequest.Method, _ path: String, _ merchant: Merchant, payload: String) async throws -> APIResponse {
        let body = api.body(merchant, payload: payload)
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("Key")!] = merchant.key
        headers[HTTPField.Name("Sign")!] = CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret)
        return try await api.client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: body)) { response in
            let json = (try? JSONParser.parse(Array(response.body.readableBytesView))) ?? .null
            return APIResponse(status: Int(response.status.code), json: json)
        }
    }

    @Test func createListChangeRegenerateAndDelete() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let requestId = newRequestId()
            let created = try await api.call(Self.create, merchant, payload: createPayload(requestId))
            #expect(created.status == 200)
            #expect(created.string("requestId") == requestId)
            #expect(created.string("url") == "https://hooks.merchant.test/swapline")
            let events = strings(created.json["notificationEventTypes"])
            #expect(events == ["EXCHANGE_COMPLETED", "EXCHANGE_FAILED"])
            let services = strings(created.json["notificationServiceTypes"])
            #expect(services == ["EXCHANGE"])
            #expect(created.string("state") == "ACTIVE")
            let publicKey = try #require(created.string("publicKey"))
            let secretKey = try #require(created.string("secretKey"))
            let webhookSecret = try #require(created.string("webhookSecret"))
            #expect(publicKey.count == 32)
            #expect(secretKey.count == 32)
            #expect(webhookSecret.hasPrefix("whsec_"))
            let decoded = Data(base64Encoded: String(webhookSecret.dropFirst(6)))
            #expect((decoded?.count ?? 0) >= 24)
            #expect(created.string("createdDate") != nil)

            // The same requestId and body again answers the same subscription.
            let again = try await api.call(Self.create, merchant, payload: createPayload(requestId))
            #expect(again.status == 200)
            #expect(again.string("secretKey") == secretKey)

            let listed = try await api.call(Self.list, merchant)
            #expect(listed.status == 200)
            let all = subscriptions(listed)
            #expect(all.count == 1)
            #expect(all.first?["requestId"] == .string(requestId))
            #expect(all.first?["webhookSecret"] == .string(webhookSecret))

            let changed = try await api.call(
                "/api/v1/subscription/webhook/change", merchant,
                payload: #"{"requestId": "\#(requestId)", "url": "https://other.merchant.test/v2", "notificationEventTypes": ["EXCHANGE_CREATED"]}"#)
            #expect(changed.status == 200)
            #expect(changed.string("url") == "https://other.merchant.test/v2")
            let changedEvents = strings(changed.json["notificationEventTypes"])
            #expect(changedEvents == ["EXCHANGE_CREATED"])
            #expect(changed.string("secretKey") == secretKey)

            let regenerated = try await api.call("/api/v1/subscription/webhook/regenerate", merchant, payload: #"{"requestId": "\#(requestId)"}"#)
            #expect(regenerated.status == 200)
            #expect(regenerated.string("publicKey") == publicKey)
            #expect(regenerated.string("secretKey") != secretKey)
            #expect(regenerated.string("webhookSecret") != webhookSecret)
            #expect(regenerated.string("previousSecretsValidUntil") != nil)
            let previousUntil = try await api.database.owner.query(
                "SELECT extract(epoch FROM previous_secrets_until - updated_at)::float8 FROM webhook_subscriptions WHERE request_id = \(UUID(uuidString: requestId)!)"
            ).decode(Double.self).first { _ in true }
            #expect(previousUntil == 86_400)

            let deleted = try await call(api, .delete, Self.list, merchant, payload: #"{"requestId": "\#(requestId)"}"#)
            #expect(deleted.status == 200)
            #expect(deleted.json["deleted"] == .bool(true))
            let afterDelete = try await api.call(Self.list, merchant)
            let remaining = subscriptions(afterDelete)
            #expect(remaining.isEmpty)
            let deletedTwice = try await api.call("/api/v1/subscription/webhook/delete", merchant, payload: #"{"requestId": "\#(requestId)"}"#)
            #expect(deletedTwice.errorCode == "004")

            // POST …/delete works as well.
            let second = newRequestId()
            _ = try await api.call(Self.create, merchant, payload: createPayload(second))
            let postDeleted = try await api.call("/api/v1/subscription/webhook/delete", merchant, payload: #"{"requestId": "\#(second)"}"#)
            #expect(postDeleted.status == 200)
        }
    }

    @Test func serviceTypesDefaultToExchange() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let response = try await api.call(
                Self.create, merchant,
                payload: #"{"requestId": "\#(newRequestId())", "notificationEventTypes": ["EXCHANGE_CREATED"], "url": "http://hooks.merchant.test:8080/"}"#)
            #expect(response.status == 200)
            let services = strings(response.json["notificationServiceTypes"])
            #expect(services == ["EXCHANGE"])
        }
    }

    @Test func privateAndMalformedURLsAreRefusedWith110() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            for url in [
                "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "http://rebind.merchant.test/",
                "ftp://hooks.merchant.test/", "http://user:pw@hooks.merchant.test/", "http://unknown.merchant.test/",
            ] {
                let response = try await api.call(Self.create, merchant, payload: createPayload(newRequestId(), url: url))
                #expect(response.status == 400, "\(url)")
                #expect(response.errorCode == "110", "\(url)")
            }
            let listed = try await api.call(Self.list, merchant)
            let all = subscriptions(listed)
            #expect(all.isEmpty)

            // Change is checked too.
            let requestId = newRequestId()
            _ = try await api.call(Self.create, merchant, payload: createPayload(requestId))
            let changed = try await api.call(
                "/api/v1/subscription/webhook/change", merchant, payload: #"{"requestId": "\#(requestId)", "url": "http://192.168.1.1/"}"#)
            #expect(changed.errorCode == "110")
        }
    }

    @Test func loopbackIsAcceptedWhenAllowListed() async throws {
        try await APIHarness.with(webhookAllowedNetworks: [IPNetwork("127.0.0.0/8")!]) { api in
            let merchant = try await api.merchant()
            let response = try await api.call(Self.create, merchant, payload: createPayload(newRequestId(), url: "http://rebind.merchant.test:9000/hook"))
            #expect(response.status == 200)
            let metadata = try await api.call(Self.create, merchant, payload: createPayload(newRequestId(), url: "http://169.254.169.254/"))
            #expect(metadata.errorCode == "110")
        }
    }

    @Test func badInputIs001() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let payloads = [
                createPayload("not-a-uuid"),
                createPayload(newRequestId(), events: #"["EXCHANGE_EXPLODED"]"#),
                createPayload(newRequestId(), events: "[]"),
                createPayload(newRequestId(), events: #""EXCHANGE_CREATED""#),
                createPayload(newRequestId(), events: "[1]"),
                #"{"requestId": "\#(newRequestId())", "notificationEventTypes": ["EXCHANGE_CREATED"], "url": 5}"#,
                #"{"requestId": "\#(newRequestId())", "notificationEventTypes": ["EXCHANGE_CREATED"]}"#,
                #"{"requestId": "\#(newRequestId())", "notificationEventTypes": ["EXCHANGE_CREATED"], "notificationServiceTypes": ["PAYOUT"], "url": "https://hooks.merchant.test/"}"#,
                #"{"notificationEventTypes": ["EXCHANGE_CREATED"], "url": "https://hooks.merchant.test/"}"#,
                #"{"requestId": 7, "notificationEventTypes": ["EXCHANGE_CREATED"], "url": "https://hooks.merchant.test/"}"#,
            ]
            for payload in payloads {
                let response = try await api.call(Self.create, merchant, payload: payload)
                #expect(response.status == 400, "\(payload)")
                #expect(response.errorCode == "001", "\(payload): \(response.json.serialized())")
            }
            let message = try await api.call(Self.create, merchant, payload: createPayload(newRequestId(), events: #"["EXCHANGE_EXPLODED"]"#))
            #expect(message.string("message")?.contains("EXCHANGE_EXPLODED") == true)
            let badDelete = try await api.call("/api/v1/subscription/webhook/delete", merchant, payload: #"{"requestId": "nope"}"#)
            #expect(badDelete.errorCode == "001")
            let badChange = try await api.call(
                "/api/v1/subscription/webhook/change", merchant, payload: #"{"requestId": "\#(newRequestId())", "notificationEventTypes": ["X"]}"#)
            #expect(badChange.errorCode == "001")
        }
    }

    @Test func aReusedRequestIdWithAnotherBodyIs016() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let requestId = newRequestId()
            let first = try await api.call(Self.create, merchant, payload: createPayload(requestId))
            #expect(first.status == 200)
            let otherURL = try await api.call(Self.create, merchant, payload: createPayload(requestId, url: "https://other.merchant.test/"))
            #expect(otherURL.errorCode == "016")
            let otherEvents = try await api.call(Self.create, merchant, payload: createPayload(requestId, events: #"["EXCHANGE_CREATED"]"#))
            #expect(otherEvents.errorCode == "016")
            // Another account cannot take it either, and learns nothing about it.
            let stranger = try await api.merchant()
            let theirs = try await api.call(Self.create, stranger, payload: createPayload(requestId))
            #expect(theirs.errorCode == "016")
            #expect(theirs.string("secretKey") == nil)
        }
    }

    @Test func anotherAccountsSubscriptionIsNotFound() async throws {
        try await APIHarness.with { api in
            let owner = try await api.merchant()
            let stranger = try await api.merchant()
            let requestId = newRequestId()
            _ = try await api.call(Self.create, owner, payload: createPayload(requestId))
            let listed = try await api.call(Self.list, stranger)
            let visible = subscriptions(listed)
            #expect(visible.isEmpty)
            let byId = #"{"requestId": "\#(requestId)"}"#
            let change = try await api.call(
                "/api/v1/subscription/webhook/change", stranger, payload: #"{"requestId": "\#(requestId)", "url": "https://other.merchant.test/"}"#)
            #expect(change.errorCode == "004")
            let regenerate = try await api.call("/api/v1/subscription/webhook/regenerate", stranger, payload: byId)
            #expect(regenerate.errorCode == "004")
            let delete = try await call(api, .delete, Self.list, stranger, payload: byId)
            #expect(delete.errorCode == "004")
            let postDelete = try await api.call("/api/v1/subscription/webhook/delete", stranger, payload: byId)
            #expect(postDelete.errorCode == "004")
            let ownersList = try await api.call(Self.list, owner)
            let stillThere = subscriptions(ownersList)
            #expect(stillThere.count == 1)
            #expect(stillThere.first?["url"] == .string("https://hooks.merchant.test/swapline"))
        }
    }

    @Test func secretsAreStoredEncrypted() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let requestId = newRequestId()
            let created = try await api.call(Self.create, merchant, payload: createPayload(requestId))
            let secretKey = try #require(created.string("secretKey"))
            let webhookSecret = try #require(created.string("webhookSecret"))
            let rows = try await api.database.owner.query(
                "SELECT secret_ciphertext, webhook_secret_ciphertext FROM webhook_subscriptions WHERE request_id = \(UUID(uuidString: requestId)!)")
            var stored: [(Data, Data)] = []
            for try await row in rows.decode((Data, Data).self) { stored.append(row) }
            #expect(stored.count == 1)
            let (sealedSecret, sealedWebhookSecret) = try #require(stored.first)
            let secretBytes = Data(secretKey.utf8)
            let webhookBytes = Data(webhookSecret.utf8)
            let secretInColumn = sealedSecret.range(of: secretBytes) != nil
            let webhookInColumn = sealedWebhookSecret.range(of: webhookBytes) != nil
            let base64InColumn = sealedWebhookSecret.range(of: Data(webhookSecret.dropFirst(6).utf8)) != nil
            #expect(!secretInColumn)
            #expect(!webhookInColumn)
            #expect(!base64InColumn)
            let opened = try APIHarness.masterKey.open([UInt8](sealedSecret))
            #expect(opened == secretKey)
        }
    }
}
