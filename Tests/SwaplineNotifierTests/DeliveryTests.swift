import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
@testable import SwaplineNotifier
import SwaplineTestSupport
import Synchronization
import Testing

@Suite("Webhook delivery to a real receiver on loopback")
struct DeliveryTests {
    @Test func everyStatusChangeReachesEveryMatchingSubscriptionSignedAndInOrder() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with { receiver, url in
                let merchant = try await notifier.merchant()
                let everything = try await notifier.subscribe(merchant, url: url)
                let outcomes = try await notifier.subscribe(merchant, url: url + "?only=completed", types: ["EXCHANGE_COMPLETED"])
                let stranger = try await notifier.merchant()
                let strangers = try await notifier.subscribe(stranger, url: url + "?stranger")
                let exchange = try await notifier.exchange(merchant, amount: "150.25")
                try await notifier.settle()
                let received = try await notifier.running(notifier.worker()) {
                    try await eventually("three webhooks") { receiver.received.count >= 3 ? receiver.received : nil }
                }
                let forEverything = received.filter { $0.json?["requestId"] as? String == everything.requestId.uuidString.lowercased() }
                let forOutcomes = received.filter { $0.json?["requestId"] as? String == outcomes.requestId.uuidString.lowercased() }
                #expect(forEverything.map(\.eventType) == ["EXCHANGE_CREATED", "EXCHANGE_COMPLETED"])
                #expect(forOutcomes.map(\.eventType) == ["EXCHANGE_COMPLETED"])
                #expect(!received.contains { $0.json?["requestId"] as? String == strangers.requestId.uuidString.lowercased() })
                #expect(forEverything.allSatisfy { verifies($0, everything) })
                #expect(forOutcomes.allSatisfy { verifies($0, outcomes) })
                #expect(!forOutcomes.contains { verifies($0, everything) }, "a subscription's secrets sign only its own webhooks")

                let created = try #require(forEverything.first?.json)
                #expect(created["id"] as? String == forEverything.first?.webhookId)
                #expect(created["level"] as? String == "INFO")
                #expect(created["service"] as? String == "EXCHANGE")
                let createdData = try #require(created["data"] as? [String: Any])
                #expect((createdData["id"] as? NSNumber)?.int64Value == exchange.id)
                #expect(createdData["state"] as? String == "IN_PROGRESS")
                #expect((createdData["sequence"] as? NSNumber)?.intValue == 1)
                let completed = try #require(forEverything.last?.json)
                #expect(completed["level"] as? String == "SUCCESS")
                let completedData = try #require(completed["data"] as? [String: Any])
                #expect(completedData["state"] as? String == "COMPLETED")
                #expect((completedData["sequence"] as? NSNumber)?.intValue == 2)
                // Amounts are written exactly at the currency's scale, as the API writes them.
                let text = String(decoding: forEverything[1].body, as: UTF8.self)
                #expect(text.contains(#""sourceAmount":150.25,"#))

                let log = try await notifier.log(merchant, everything)
                #expect(log.count == 2)
                #expect(log.allSatisfy { $0.status == "DELIVERED" && $0.attempts.count == 1 && $0.attempts[0].httpStatus == 200 })
            }
        }
    }

    /// The dispatcher commits without waiting for the WAL flush, so a crash can lose its last
    /// batch after the worker sent it: written again, each delivery carries the webhook id the
    /// receiver already saw, and the receiver drops it as a duplicate.
    @Test func aBatchDispatchedAgainCarriesTheSameWebhookIds() async throws {
        try await NotifierHarness.with { notifier in
            let merchant = try await notifier.merchant()
            _ = try await notifier.subscribe(merchant, url: "http://127.0.0.1:9/a")
            _ = try await notifier.subscribe(merchant, url: "http://127.0.0.1:9/b")
            _ = try await notifier.exchange(merchant)
            _ = try await notifier.exchange(merchant)
            try await notifier.dispatch(expecting: 4)
            func webhookIds() async throws -> [String] {
                let rows = try await notifier.database.owner.query("SELECT webhook_id FROM webhook_deliveries ORDER BY webhook_id")
                return try await rows.decode(String.self).reduce(into: []) { $0.append($1) }
            }
            let first = try await webhookIds()
            #expect(Set(first).count == 4)
            #expect(first.allSatisfy { $0.hasPrefix("msg_") && $0.count == 36 })
            // What a crash that lost the batch leaves: neither its deliveries nor the checkpoint's move.
            try await notifier.database.owner.query("DELETE FROM webhook_deliveries")
            try await notifier.database.owner.query("DELETE FROM checkpoints WHERE name = \(WebhookDispatcher.checkpointName)")
            try await notifier.dispatch(expecting: 4)
            #expect(try await webhookIds() == first)
        }
    }

    /// The dispatcher reads an exchange's earlier events when a batch starts mid-stream.
    @Test func aStatusChangeInALaterBatchCarriesTheWholeExchange() async throws {
        try await NotifierHarness.with { notifier in
            let merchant = try await notifier.merchant()
            _ = try await notifier.subscribe(merchant, url: "http://127.0.0.1:9/hook")
            let exchange = try await notifier.exchange(merchant, amount: "150.25")
            try await notifier.dispatch(expecting: 1)
            try await notifier.settle()
            try await notifier.dispatch(expecting: 2)
            let rows = try await notifier.database.app.query(
                "SELECT convert_from(body, 'UTF8') FROM webhook_deliveries ORDER BY event_position")
            var data: [[String: Any]] = []
            for try await body in rows.decode(String.self) {
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                data.append(try #require(json["data"] as? [String: Any]))
            }
            #expect(data.map { $0["state"] as? String } == ["IN_PROGRESS", "COMPLETED"])
            #expect(data.map { ($0["sequence"] as? NSNumber)?.intValue } == [1, 2])
            #expect(data.allSatisfy { ($0["id"] as? NSNumber)?.int64Value == exchange.id })
            #expect(data.allSatisfy { ($0["sourceAmount"] as? NSNumber)?.decimalValue == Decimal(string: "150.25") })
        }
    }

    @Test func duringARotationOverlapBothWebhookSecretsSignAndSignUsesTheNewKey() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with { receiver, url in
                let merchant = try await notifier.merchant()
                let original = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                let rotated = try await notifier.subscriptions.regenerate(account: merchant, requestId: original.requestId)
                _ = try await notifier.exchange(merchant)
                try await notifier.dispatch(expecting: 1)
                #expect(try await notifier.worker().runOnce() == 1)
                let received = try #require(receiver.received.first)
                #expect(received.headers["webhook-signature"]?.split(separator: " ").count == 2)
                #expect(verifies(received, rotated), "the new secrets verify")
                let signedWithOldKey = CalypsoSignature.isValid(signature: received.headers["sign"] ?? "", body: received.body, secret: original.secretKey)
                #expect(!signedWithOldKey, "Sign uses only the new secretKey")
                let timestamp = Int64(received.headers["webhook-timestamp"] ?? "") ?? 0
                #expect(
                    WebhookSignature.verifyStandard(
                        header: received.headers["webhook-signature"] ?? "", webhookId: received.webhookId, timestamp: timestamp,
                        body: received.body, secret: original.webhookSecret), "the old webhook secret still verifies during the overlap")
            }
        }
    }

    @Test func failedAttemptsAreRetriedOnTheScheduleWithTheSameWebhookId() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with(reply: { _, index in .init(status: index < 2 ? 500 : 200) }) { receiver, url in
                let merchant = try await notifier.merchant()
                let subscription = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.exchange(merchant)
                let received = try await notifier.running(notifier.worker(delays: [0.3, 0.6])) {
                    // Long: the dispatcher's read waits for the cluster-wide visibility horizon,
                    // which other tests' long statements (a rebuild's batches) hold back (`dispatch`).
                    try await eventually("three attempts", within: 60) { receiver.received.count >= 3 ? receiver.received : nil }
                }
                #expect(received.count == 3)
                #expect(Set(received.map(\.webhookId)).count == 1, "the webhook-id is stable across retries")
                #expect(received.allSatisfy { verifies($0, subscription) }, "every retry is signed afresh")
                #expect(received[1].at - received[0].at >= .milliseconds(300))
                #expect(received[2].at - received[1].at >= .milliseconds(600))
                let delivery = try #require(try await notifier.log(merchant, subscription).first)
                #expect(delivery.status == "DELIVERED")
                #expect(delivery.attempts.map(\.httpStatus) == [500, 500, 200])
                #expect(delivery.attempts.first?.responseExcerpt == "receiver says 500")
            }
        }
    }

    @Test func aTimeoutAndARefusedConnectionAreFailedAttemptsThenTheDeliveryDiesAndCanBeRedelivered() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with(reply: { _, index in index == 0 ? .init(delay: .seconds(4)) : .init() }) { receiver, url in
                let merchant = try await notifier.merchant()
                // Nothing listens on the port of a receiver that has stopped.
                let closedPort = try await WebhookReceiver.with { _, url in url }
                let refused = try await notifier.subscribe(merchant, url: closedPort, types: ["EXCHANGE_CREATED"])
                let slow = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.exchange(merchant)
                try await notifier.dispatch(expecting: 2)
                // A second of timeout against a 4-second answer; retries enough that a loaded
                // machine's slow answer to a retry cannot kill the slow endpoint's delivery.
                let worker = notifier.worker(delays: [0.05, 0.05, 0.05, 0.05], timeoutSeconds: 1)
                let dead = try await eventually("the refused delivery dies and the slow one is delivered", within: 30) {
                    try await worker.runOnce()
                    let refusedLog = try await notifier.log(merchant, refused)
                    let slowLog = try await notifier.log(merchant, slow)
                    return refusedLog.first?.status == "DEAD" && slowLog.first?.status == "DELIVERED" ? (refusedLog[0], slowLog[0]) : nil
                }
                #expect(dead.0.attempts.count == 5, "the first attempt and four retries")
                #expect(dead.0.attempts.allSatisfy { $0.httpStatus == nil && $0.error != nil })
                #expect(dead.1.attempts.first?.httpStatus == nil)
                #expect(dead.1.attempts.first?.error == "timed out")
                #expect(dead.1.attempts.last?.httpStatus == 200)

                // The merchant fixes the endpoint and asks for the dead one again.
                _ = try await notifier.subscriptions.change(account: merchant, requestId: refused.requestId, url: url, eventTypes: nil)
                let again = try await notifier.store.redeliver(account: merchant, deliveryId: dead.0.deliveryId)
                #expect(again.status == "PENDING")
                let redelivered = try await eventually("the redelivery") {
                    try await worker.runOnce()
                    return try await notifier.log(merchant, refused).first.flatMap { $0.status == "DELIVERED" ? $0 : nil }
                }
                #expect(redelivered.attempts.count == 6)
                #expect(receiver.received.filter { $0.webhookId == dead.0.webhookId }.count == 1)
            }
        }
    }

    @Test func gone410DisablesTheSubscriptionAndUnblockingResends() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with(reply: { _, index in .init(status: index == 0 ? 410 : 200) }) { receiver, url in
                let merchant = try await notifier.merchant()
                let subscription = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.exchange(merchant)
                try await notifier.dispatch(expecting: 1)
                let worker = notifier.worker(delays: [0.05, 0.05])
                _ = try await eventually("the subscription disabled") {
                    try await worker.runOnce()
                    return try await notifier.state(of: subscription, merchant) == "DISABLED" ? true : nil
                }
                // Disabled: the retry comes due but is not sent.
                _ = try await notifier.exchange(merchant)
                try await notifier.dispatch(expecting: 2)
                try await notifier.waitUntilEveryPendingDeliveryIsDue()
                #expect(try await worker.runOnce() == 0)
                #expect(receiver.received.count == 1)

                let active = try await notifier.subscriptions.unblock(account: merchant, requestId: subscription.requestId)
                #expect(active.state == "ACTIVE")
                _ = try await eventually("both delivered") {
                    try await worker.runOnce()
                    return try await notifier.deliveryCount(status: "DELIVERED") == 2 ? true : nil
                }
                #expect(receiver.received.count == 3)
            }
        }
    }

    @Test func retryAfterOf429IsHonoured() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with(reply: { _, index in index == 0 ? .init(status: 429, headers: [("Retry-After", "1")]) : .init() }) {
                receiver, url in
                let merchant = try await notifier.merchant()
                _ = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.exchange(merchant)
                let received = try await notifier.running(notifier.worker(delays: [0.05, 0.05])) {
                    try await eventually("the second attempt") { receiver.received.count >= 2 ? receiver.received : nil }
                }
                #expect(received[1].at - received[0].at >= .seconds(1), "the schedule says 50 ms; Retry-After says 1 s")
            }
        }
    }

    @Test func sustainedFailureBlocksTheSubscriptionAndUnblockingResendsWhatFailed() async throws {
        try await NotifierHarness.with { notifier in
            let healthy = Atomic<Bool>(false)
            try await WebhookReceiver.with(reply: { _, _ in .init(status: healthy.load(ordering: .relaxed) ? 200 : 503) }) { receiver, url in
                let merchant = try await notifier.merchant()
                let subscription = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                for _ in 0..<3 { _ = try await notifier.exchange(merchant) }
                try await notifier.dispatch(expecting: 3)
                let worker = notifier.worker(delays: Array(repeating: 0.02, count: 10), blockErrors: 4)
                _ = try await eventually("blocked after more than 4 errors") {
                    try await worker.runOnce()
                    return try await notifier.state(of: subscription, merchant) == "BLOCKED" ? true : nil
                }
                // Errors recorded at the same moment do not see each other, so the block comes at the
                // fifth error or a little after it; never before.
                let attemptsWhenBlocked = receiver.received.count
                #expect(attemptsWhenBlocked >= 5)
                try await notifier.waitUntilEveryPendingDeliveryIsDue()
                #expect(try await worker.runOnce() == 0, "a blocked subscription is not called")
                #expect(receiver.received.count == attemptsWhenBlocked)
                #expect(try await notifier.deliveryCount(status: "PENDING") == 3)

                healthy.store(true, ordering: .relaxed)
                _ = try await notifier.subscriptions.unblock(account: merchant, requestId: subscription.requestId)
                _ = try await eventually("everything that failed is resent") {
                    try await worker.runOnce()
                    return try await notifier.deliveryCount(status: "DELIVERED") == 3 ? true : nil
                }
                #expect(try await notifier.state(of: subscription, merchant) == "ACTIVE")
            }
        }
    }

    @Test func recoverQueuesTheDeadDeliveriesOfATimeRange() async throws {
        try await NotifierHarness.with { notifier in
            let healthy = Atomic<Bool>(false)
            try await WebhookReceiver.with(reply: { _, _ in .init(status: healthy.load(ordering: .relaxed) ? 200 : 500) }) { receiver, url in
                let merchant = try await notifier.merchant()
                let subscription = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                for _ in 0..<2 { _ = try await notifier.exchange(merchant) }
                try await notifier.dispatch(expecting: 2)
                let worker = notifier.worker(delays: [])
                _ = try await eventually("both dead") {
                    try await worker.runOnce()
                    return try await notifier.deliveryCount(status: "DEAD") == 2 ? true : nil
                }
                healthy.store(true, ordering: .relaxed)
                let outside = try await notifier.store.recover(
                    account: merchant, subscriptionId: subscription.requestId, since: Date().addingTimeInterval(60),
                    until: Date().addingTimeInterval(120))
                #expect(outside == 0)
                let queued = try await notifier.store.recover(
                    account: merchant, subscriptionId: subscription.requestId, since: Date().addingTimeInterval(-60), until: Date().addingTimeInterval(60))
                #expect(queued == 2)
                _ = try await eventually("both delivered") {
                    try await worker.runOnce()
                    return try await notifier.deliveryCount(status: "DELIVERED") == 2 ? true : nil
                }
                #expect(receiver.received.count == 4)
                let stranger = try await notifier.merchant()
                await #expect(throws: SwaplineError.self) {
                    try await notifier.store.recover(
                        account: stranger, subscriptionId: subscription.requestId, since: .distantPast, until: .distantFuture)
                }
            }
        }
    }

    @Test func aLaterStatusWaitsForTheEarlierOneAndOtherEndpointsDoNotWait() async throws {
        try await NotifierHarness.with { notifier in
            // The slow endpoint fails the creation twice, then holds every request until released.
            try await WebhookReceiver.with(reply: { _, index in index < 2 ? .init(status: 500) : .init(hold: true) }) { slow, slowURL in
                try await WebhookReceiver.with { fast, fastURL in
                    let merchant = try await notifier.merchant()
                    _ = try await notifier.subscribe(merchant, url: slowURL)
                    _ = try await notifier.subscribe(merchant, url: fastURL)
                    _ = try await notifier.exchange(merchant)
                    try await notifier.settle()
                    try await notifier.running(notifier.worker(delays: [0.1, 0.1, 0.1])) {
                        _ = try await eventually("the fast endpoint has both") { fast.received.count == 2 ? true : nil }
                        _ = try await eventually("the slow endpoint holds its third attempt") { slow.received.count == 3 ? true : nil }
                        #expect(slow.received.map(\.eventType) == ["EXCHANGE_CREATED", "EXCHANGE_CREATED", "EXCHANGE_CREATED"])
                        slow.release()
                        _ = try await eventually("the slow endpoint gets the completion after the creation") {
                            slow.received.count == 4 ? true : nil
                        }
                    }
                    #expect(fast.received.map(\.eventType) == ["EXCHANGE_CREATED", "EXCHANGE_COMPLETED"])
                    #expect(slow.received.last?.eventType == "EXCHANGE_COMPLETED")
                }
            }
        }
    }

    /// Autovacuum may analyze the delivery table while nothing is pending; a burst then comes.
    /// The ordering rule must still look each exchange up by its index, not walk the backlog
    /// (it did: a benchmark's deliveries fell from 2,654/s to 312/s).
    @Test func theOrderingRuleLooksTheExchangeUpWhenTheStatisticsSawNothingPending() async throws {
        try await NotifierHarness.with { notifier in
            let merchant = try await notifier.merchant()
            let subscription = try await notifier.subscribe(merchant, url: "http://127.0.0.1:9/hook")
            let owner = notifier.database.owner
            func deliveries(_ numbers: ClosedRange<Int>, status: String) async throws {
                try await owner.query(
                    """
                    INSERT INTO webhook_deliveries
                        (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body, status)
                    SELECT 'msg_' || n, \(subscription.requestId), \(merchant.rawValue), n, 1, n, 'EXCHANGE_CREATED', '\\x7b7d', \(status)
                    FROM generate_series(\(numbers.lowerBound), \(numbers.upperBound)) AS n
                    """, logger: notifier.database.logger)
            }
            try await deliveries(1...5_000, status: "DELIVERED")
            try await owner.query("ANALYZE webhook_deliveries", logger: notifier.database.logger)
            try await deliveries(5_001...10_000, status: "PENDING")

            try await owner.withConnection { connection in
                try await connection.query(
                    "PREPARE claim_due(uuid, float8, int) AS \(unescaped: DeliveryStore.ClaimDue.sql)", logger: notifier.database.logger)
                for mode in ["force_custom_plan", "force_generic_plan"] {
                    try await connection.query("SET plan_cache_mode = \(unescaped: mode)", logger: notifier.database.logger)
                    let claim = try await Self.indexesScanned(
                        forAlias: "e", explaining: "EXECUTE claim_due('\(UUID())', 30, 32)", on: connection)
                    #expect(!claim.isEmpty && !claim.contains("webhook_deliveries_due") && !claim.contains("Seq Scan"), "\(mode): \(claim)")
                }
            }
            #expect(try await notifier.store.claim(limit: 32, leaseSeconds: 30).count == 32)
        }
    }

    /// A worker whose claim came back short sleeps until the next scheduled attempt: what is due
    /// already (held back, leased, or just claimed) does not count, and the answer is one probe of
    /// the due index, not a walk over the backlog.
    @Test func aShortClaimSleepsUntilTheNextScheduledAttempt() async throws {
        try await NotifierHarness.with { notifier in
            let merchant = try await notifier.merchant()
            let subscription = try await notifier.subscribe(merchant, url: "http://127.0.0.1:9/hook")
            let logger = notifier.database.logger
            #expect(try await notifier.store.secondsUntilNextAttempt() == nil)
            // Two deliveries of one exchange, due now: the second is held back by the first.
            try await notifier.database.owner.query(
                """
                INSERT INTO webhook_deliveries
                    (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body)
                SELECT 'msg_' || n, \(subscription.requestId), \(merchant.rawValue), 1, n, n, 'EXCHANGE_CREATED', '\\x7b7d'
                FROM generate_series(1, 2) AS n
                """, logger: logger)
            #expect(try await notifier.store.secondsUntilNextAttempt() == nil)
            #expect(try await notifier.store.claim(limit: 10, leaseSeconds: 30).count == 1)
            #expect(try await notifier.store.secondsUntilNextAttempt() == nil)
            try await notifier.database.owner.query(
                """
                INSERT INTO webhook_deliveries
                    (webhook_id, subscription_id, account_id, exchange_id, sequence, event_position, event_type, body, next_attempt_at)
                VALUES ('msg_later', \(subscription.requestId), \(merchant.rawValue), 2, 1, 3, 'EXCHANGE_CREATED', '\\x7b7d',
                        now() + interval '60 seconds')
                """, logger: logger)
            let seconds = try #require(try await notifier.store.secondsUntilNextAttempt())
            #expect(seconds > 50 && seconds <= 60)
            let scanned = try await notifier.database.owner.withConnection { connection in
                try await Self.indexesScanned(forAlias: "webhook_deliveries", explaining: DeliveryStore.nextAttemptSQL, on: connection)
            }
            #expect(scanned == ["webhook_deliveries_due"], "\(scanned)")
        }
    }

    /// The indexes (or "Seq Scan") the plan of `statement` reads the table aliased `alias` by.
    static func indexesScanned(forAlias alias: String, explaining statement: String, on connection: PostgresConnection) async throws -> [String] {
        let rows = try await connection.query("EXPLAIN (FORMAT JSON) \(unescaped: statement)", logger: TestDatabase.logger)
        var text = ""
        for try await line in rows.decode(String.self) { text += line }
        let plans = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        var found: [String] = []
        func indexes(under node: [String: Any]) -> [String] {
            let own = (node["Index Name"] as? String).map { [$0] } ?? []
            return own + ((node["Plans"] as? [[String: Any]]) ?? []).flatMap(indexes(under:))
        }
        func walk(_ node: [String: Any]) {
            if node["Alias"] as? String == alias {
                found += node["Node Type"] as? String == "Seq Scan" ? ["Seq Scan"] : indexes(under: node)
            }
            for child in (node["Plans"] as? [[String: Any]]) ?? [] { walk(child) }
        }
        for plan in plans { if let root = plan["Plan"] as? [String: Any] { walk(root) } }
        return found
    }

    /// Sends are what count against the concurrency; the worker claims ahead of them, so a freed
    /// slot never waits for a claim, and everything it holds is sent once slots free.
    @Test func aWorkerSendsAtMostItsConcurrencyAtOnceAndClaimsAhead() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with(reply: { _, _ in .init(hold: true) }) { receiver, url in
                let merchant = try await notifier.merchant()
                _ = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                for _ in 0..<5 { _ = try await notifier.exchange(merchant) }
                try await notifier.settle()
                try await notifier.running(notifier.worker(concurrency: 2)) {
                    _ = try await eventually("two sends held by the endpoint") { receiver.received.count == 2 ? true : nil }
                    _ = try await eventually("all five claimed ahead") {
                        let rows = try await notifier.database.owner.query(
                            "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING' AND lease_token IS NOT NULL")
                        for try await count in rows.decode(Int64.self) where count == 5 { return true }
                        return nil
                    }
                    #expect(receiver.received.count == 2, "the other three wait for a slot")
                    receiver.release()
                    _ = try await eventually("all five delivered") { try await notifier.deliveryCount(status: "DELIVERED") == 5 ? true : nil }
                }
                #expect(Set(receiver.received.map(\.webhookId)).count == 5)
                #expect(receiver.received.count == 5)
            }
        }
    }

    @Test func aNameThatRebindsToAPrivateAddressIsRefusedAtDeliveryBeforeAnyConnection() async throws {
        // Loopback is not allow-listed here, so the guard must refuse it.
        try await NotifierHarness.with(allowedNetworks: []) { notifier in
            notifier.resolver.point("hooks.merchant.test", to: ["93.184.215.14"])
            let merchant = try await notifier.merchant()
            let subscription = try await notifier.subscribe(merchant, url: "http://hooks.merchant.test/hook", types: ["EXCHANGE_CREATED"])
            notifier.resolver.point("hooks.merchant.test", to: ["127.0.0.1"])
            _ = try await notifier.exchange(merchant)
            try await notifier.dispatch(expecting: 1)
            #expect(try await notifier.worker(delays: [60]).runOnce() == 1)
            let attempt = try #require(try await notifier.log(merchant, subscription).first?.attempts.first)
            #expect(attempt.httpStatus == nil)
            #expect(attempt.error?.contains("resolves to 127.0.0.1, which is loopback") == true)
            #expect(attempt.latencyMilliseconds < 1000)
        }
    }

    @Test func theSenderConnectsOnlyToTheCheckedAddress() async throws {
        let guardian = SSRFGuard(
            allowedNetworks: NotifierHarness.loopback, resolver: StaticHostResolver(["hooks.merchant.test": ["127.0.0.1", "93.184.215.14"]]))
        let pinned = try await guardian.pin("http://hooks.merchant.test:8443/a/b?c=d#frag")
        #expect(pinned.requestURL == "http://127.0.0.1:8443/a/b?c=d")
        #expect(pinned.hostHeader == "hooks.merchant.test:8443")
        let ipv6 = try await SSRFGuard(allowedNetworks: [IPNetwork("::1/128")!]).pin("http://[::1]/")
        #expect(ipv6.requestURL == "http://[::1]:80/")
        #expect(ipv6.hostHeader == "[::1]")
    }
}
