import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwaplineAPI
import SwaplineApplication
import SwaplineTestSupport
import Synchronization
import Testing

/// Seconds on a clock the test moves by hand.
final class ManualSeconds: Sendable {
    private let value = Mutex(1_000.0)
    var now: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

@Suite("RateLimit: the token bucket")
struct RateLimitBucketTests {
    @Test func aBurstIsAllowedThenRefusedUntilATokenIsBack() {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 2, burst: 3, now: { clock.now })
        for _ in 0..<3 { #expect(limiter.acquire(key: "a") == .allowed) }
        #expect(limiter.acquire(key: "a") == .refused(retryAfterSeconds: 1), "half a second to a token, rounded up")
        #expect(limiter.acquire(key: "b") == .allowed, "another key has its own bucket")
        clock.advance(0.4)
        #expect(limiter.acquire(key: "a") == .refused(retryAfterSeconds: 1))
        clock.advance(0.1)
        #expect(limiter.acquire(key: "a") == .allowed)
        #expect(limiter.acquire(key: "a") == .refused(retryAfterSeconds: 1))
        clock.advance(60)
        for _ in 0..<3 { #expect(limiter.acquire(key: "a") == .allowed, "refilled to the burst, never above") }
        #expect(limiter.acquire(key: "a") != .allowed)
    }

    @Test func retryAfterIsWholeSecondsAndAtLeastOne() {
        let clock = ManualSeconds()
        let slow = KeyRateLimiter(ratePerSecond: 0.25, burst: 1, now: { clock.now })
        #expect(slow.acquire(key: "k") == .allowed)
        #expect(slow.acquire(key: "k") == .refused(retryAfterSeconds: 4))
        clock.advance(2.5)
        #expect(slow.acquire(key: "k") == .refused(retryAfterSeconds: 2), "1.5 s left, rounded up")
        let fast = KeyRateLimiter(ratePerSecond: 1_000, burst: 1, now: { clock.now })
        #expect(fast.acquire(key: "k") == .allowed)
        #expect(fast.acquire(key: "k") == .refused(retryAfterSeconds: 1), "a millisecond is still 1 s")
    }

    @Test func idleKeysArePrunedSoMemoryStaysBounded() {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 100, burst: 200, now: { clock.now })
        // Many keys, each a few requests, spread over time: a bucket full again is forgotten.
        for round in 0..<50 {
            for index in 0..<1_000 { _ = limiter.acquire(key: "key-\(round)-\(index)") }
            clock.advance(2.5)
        }
        #expect(limiter.trackedKeys <= 2 * 1_000 + 1_024, "kept \(limiter.trackedKeys) buckets for 50,000 keys")
        // A key that used its bucket is not forgotten while it refills.
        for _ in 0..<200 { _ = limiter.acquire(key: "busy") }
        #expect(limiter.acquire(key: "busy") != .allowed)
        clock.advance(61)
        _ = limiter.acquire(key: "other")
        #expect(limiter.trackedKeys <= 2, "a minute later only the new bucket (and at most the busy one) remain")
    }
}

@Suite("RateLimit: signed API routes")
struct RateLimitAPITests {
    struct Answer: Sendable {
        var status: Int
        var errorCode: String?
        var retryAfter: String?
    }

    /// A signed call that keeps the response headers.
    func call(_ api: APIHarness, _ merchant: Merchant, path: String = "/api/v1/account", sign: String? = nil, signed: Bool = true) async throws -> Answer {
        let body = api.body(merchant)
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("Key")!] = merchant.key
        if signed {
            headers[HTTPField.Name("Sign")!] = sign ?? CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret)
        }
        return try await api.client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            let json = try JSONParser.parse(Array(response.body.readableBytesView))
            var code: String?
            if case .string(let text)? = json["errorCode"] { code = text }
            return Answer(status: Int(response.status.code), errorCode: code, retryAfter: response.headers[.retryAfter])
        }
    }

    @Test func aBurstOverTheLimitIs429With111AndRetryAfterThenPassesAgain() async throws {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 1, burst: 3, now: { clock.now })
        try await APIHarness.with(rateLimiter: limiter) { api in
            let merchant = try await api.merchant()
            let other = try await api.merchant()
            for _ in 0..<3 {
                #expect(try await call(api, merchant).status == 200)
            }
            let refused = try await call(api, merchant)
            #expect(refused.status == 429)
            #expect(refused.errorCode == "111")
            #expect(refused.retryAfter == "1")
            let subscription = try await call(api, merchant, path: "/api/v1/subscription/webhook")
            #expect(subscription.status == 429, "every signed route shares the key's bucket")

            #expect(try await call(api, other).status == 200, "another key is not affected")

            clock.advance(Double(refused.retryAfter.flatMap(Int.init) ?? 1))
            #expect(try await call(api, merchant).status == 200, "a token is back after Retry-After")
            #expect(try await call(api, merchant).status == 429)
        }
    }

    @Test func theLimitComesBeforeTheSignatureCheck() async throws {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 1, burst: 1, now: { clock.now })
        try await APIHarness.with(rateLimiter: limiter) { api in
            let merchant = try await api.merchant()
            #expect(try await call(api, merchant, sign: "00").errorCode == "003", "a wrong sign takes a token too")
            let refused = try await call(api, merchant, sign: "00")
            #expect(refused.status == 429, "refused before the signature or the database is looked at")
            #expect(refused.errorCode == "111")
        }
    }

    /// Schemathesis's contract run (ST203) sends a Key without a Sign, fast enough to use up the
    /// key's bucket; it must still hear 003, and such a request must not spend the key's tokens.
    @Test func aRequestWithoutASignIsToldSoEvenOverTheLimit() async throws {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 1, burst: 1, now: { clock.now })
        try await APIHarness.with(rateLimiter: limiter) { api in
            let merchant = try await api.merchant()
            let unsigned = try await call(api, merchant, signed: false)
            #expect(unsigned.status == 400)
            #expect(unsigned.errorCode == "003")
            #expect(try await call(api, merchant).status == 200, "the unsigned request took no token")
            #expect(try await call(api, merchant).status == 429)
            let overTheLimit = try await call(api, merchant, signed: false)
            #expect(overTheLimit.status == 400, "a missing Sign is named even when the bucket is empty")
            #expect(overTheLimit.errorCode == "003")
        }
    }

    @Test func requestsPassAgainOnTheRealClock() async throws {
        // One token a second, two in the bucket: ten calls at once overdraw it however slow the
        // machine is; then a token is back within a second, polled with a deadline.
        let limiter = KeyRateLimiter(ratePerSecond: 1, burst: 2)
        try await APIHarness.with(rateLimiter: limiter) { api in
            let merchant = try await api.merchant()
            let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<10 { group.addTask { try await call(api, merchant) } }
                var answers: [Answer] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            let refused = answers.first { $0.status == 429 }
            #expect(refused?.errorCode == "111")
            #expect(refused?.retryAfter == "1")
            let passed = try await eventually("a request passes again", within: 10) {
                let answer = try await call(api, merchant)
                return answer.status == 200 ? answer : nil
            }
            #expect(passed.errorCode == nil)
        }
    }

    @Test func probesAndTheDocumentAreNeverLimited() async throws {
        let clock = ManualSeconds()
        let limiter = KeyRateLimiter(ratePerSecond: 1, burst: 1, now: { clock.now })
        try await APIHarness.with(rateLimiter: limiter) { api in
            let merchant = try await api.merchant()
            #expect(try await call(api, merchant).status == 200)
            #expect(try await call(api, merchant).status == 429)
            var headers: HTTPFields = [:]
            headers[HTTPField.Name("Key")!] = merchant.key
            for path in ["/health", "/ready", "/openapi.yaml"] {
                for _ in 0..<5 {
                    let status = try await api.client.execute(uri: path, method: .get, headers: headers) { $0.status.code }
                    #expect(status == 200, "\(path) is not limited, even with an exhausted Key")
                }
            }
        }
    }
}
