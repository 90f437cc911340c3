import Foundation
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier
import Testing

@Suite("Webhook signatures, payload and retry schedule")
struct WebhookSigningTests {
    /// The example of the Standard Webhooks specification (and its reference libraries' tests).
    @Test func standardWebhooksPublishedVector() {
        let signature = WebhookSignature.standard(
            webhookId: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func duringARotationBothSecretsSignAndSignUsesTheNewKey() {
        let body = Array(#"{"id":"msg_1"}"#.utf8)
        let old = "whsec_" + Data(repeating: 1, count: 32).base64EncodedString()
        let new = "whsec_" + Data(repeating: 2, count: 32).base64EncodedString()
        let secrets = SigningSecrets(publicKey: "pk", secretKey: "b823a6b9ea72408583cef9ec8d67fa52", webhookSecret: new, previousWebhookSecret: old)
        let headers = Dictionary(uniqueKeysWithValues: WebhookSignature.headers(webhookId: "msg_1", timestamp: 1700000000, body: body, secrets: secrets))
        let signature = headers["webhook-signature"] ?? ""
        #expect(signature.split(separator: " ").count == 2)
        #expect(WebhookSignature.verifyStandard(header: signature, webhookId: "msg_1", timestamp: 1700000000, body: body, secret: old))
        #expect(WebhookSignature.verifyStandard(header: signature, webhookId: "msg_1", timestamp: 1700000000, body: body, secret: new))
        #expect(!WebhookSignature.verifyStandard(header: signature, webhookId: "msg_1", timestamp: 1700000001, body: body, secret: new))
        #expect(headers["Sign"] == CalypsoSignature.sign(body: body, secret: "b823a6b9ea72408583cef9ec8d67fa52"))
        #expect(headers["Key"] == "pk")
        #expect(headers["webhook-id"] == "msg_1")
        #expect(headers["webhook-timestamp"] == "1700000000")
        let single = Dictionary(
            uniqueKeysWithValues: WebhookSignature.headers(
                webhookId: "msg_1", timestamp: 1700000000, body: body, secrets: SigningSecrets(publicKey: "pk", secretKey: "s", webhookSecret: new)))
        #expect(single["webhook-signature"]?.split(separator: " ").count == 1)
    }

    /// The data is rendered once per event and written into each subscription's envelope, last.
    @Test func aBodyIsTheEnvelopeWithTheEventsDataLast() throws {
        let subscription = UUID(uuidString: "6F1D9C2E-8B1A-4C3D-9E2F-0A1B2C3D4E5F")!
        let body = WebhookPayload.body(
            subscriptionId: subscription, webhookId: "msg_1", createdAt: Date(timeIntervalSince1970: 1_764_600_000.25), type: .completed,
            data: #"{"id":1001,"sequence":2}"#)
        #expect(
            body == #"{"requestId":"6f1d9c2e-8b1a-4c3d-9e2f-0a1b2c3d4e5f","id":"msg_1","createdDate":"2025-12-01T14:40:00.250Z","#
                + #""level":"SUCCESS","service":"EXCHANGE","eventType":"EXCHANGE_COMPLETED","data":{"id":1001,"sequence":2}}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(body.utf8)) is [String: Any])
    }

    @Test func calypsosDefaultScheduleHas19RetriesOverAbout91Hours() {
        let policy = RetryPolicy.calypso
        #expect(policy.delays.count == 19)
        #expect(policy.delays.reduce(0, +) == 328_350, "about 91.2 h from the first attempt to the last")
        #expect(policy.delay(afterFailure: 1, random: 0) == 30)
        #expect(policy.delay(afterFailure: 19, random: 0) == 125_430)
        #expect(policy.delay(afterFailure: 20) == nil, "the twentieth failure is the last")
        let jittered = policy.delay(afterFailure: 3, random: 0.999) ?? 0
        #expect(jittered >= 60 && jittered < 66, "jitter only ever delays, by at most 10 %")
        #expect(policy.delay(afterFailure: 1, retryAfter: 120) == 120)
        #expect(policy.delay(afterFailure: 1, retryAfter: 10_000_000) == 86_400, "Retry-After is capped at a day")
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(RetryPolicy.retryAfterSeconds("120", now: now) == 120)
        #expect(RetryPolicy.retryAfterSeconds("Tue, 14 Nov 2023 22:15:20 GMT", now: now) == 120)
        #expect(RetryPolicy.retryAfterSeconds("soon", now: now) == nil)
        #expect(RetryPolicy.retryAfterSeconds(nil, now: now) == nil)
    }

    @Test func scheduleConfigurationIsParsedStrictly() {
        #expect(SwaplineSettings.WebhookSettings.parseDelays("30, 60,90") == [30, 60, 90])
        #expect(SwaplineSettings.WebhookSettings.parseDelays("0.05") == [0.05])
        #expect(SwaplineSettings.WebhookSettings.parseDelays("30,,60") == nil)
        #expect(SwaplineSettings.WebhookSettings.parseDelays("-1") == nil)
        #expect(SwaplineSettings.WebhookSettings.parseDelays("fast") == nil)
    }
}
