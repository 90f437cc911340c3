import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier
import SwaplineTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Delivery workers as separate `swapline serve` processes on one database, as they run in production.
@Suite("Webhook workers in separate processes", .enabled(if: SwaplineExecutable.isBuilt))
struct WorkerProcessTests {
    static let notifierOnly = ["serve", "--notifier"]

    static func environment(timeoutSeconds: Int = 10) -> [String: String] {
        [
            "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SWAPLINE_WEBHOOK_RETRY_SCHEDULE": "0.05,0.05,0.05",
            "SWAPLINE_WEBHOOK_TIMEOUT_SECONDS": String(timeoutSeconds),
        ]
    }

    @Test func aWorkerKilledMidSendLeavesTheDeliveryToAnother() async throws {
        try await NotifierHarness.with { notifier in
            // The first request is held (the worker is killed while waiting for the answer).
            try await WebhookReceiver.with(reply: { _, index in .init(hold: index == 0) }) { receiver, url in
                let merchant = try await notifier.merchant()
                let subscription = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.exchange(merchant)
                let process = try SwaplineExecutable.launch(Self.notifierOnly, database: notifier.database, environment: Self.environment())
                defer { if process.isRunning { process.terminate() } }
                let first = try await eventually("the first process sends") { receiver.received.first }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                #expect(process.terminationReason == .uncaughtSignal)

                let pending = try #require(try await notifier.log(merchant, subscription).first)
                #expect(pending.status == "PENDING")
                #expect(pending.attempts.isEmpty, "the killed worker never recorded its attempt")
                // Its lease (timeout + 30 s) runs out; here the clock is moved past it instead of waiting.
                try await notifier.database.owner.query("UPDATE webhook_deliveries SET lease_until = now() - interval '1 second'")
                let worker = notifier.worker()
                #expect(try await worker.runOnce() == 1)
                let delivered = try #require(try await notifier.log(merchant, subscription).first)
                #expect(delivered.status == "DELIVERED")
                #expect(receiver.received.count == 2)
                #expect(receiver.received[1].webhookId == first.webhookId)
                #expect(verifies(receiver.received[1], subscription))
            }
        }
    }

    @Test func twoWorkerProcessesSendEveryDeliveryExactlyOnce() async throws {
        try await NotifierHarness.with { notifier in
            try await WebhookReceiver.with { receiver, url in
                let merchant = try await notifier.merchant()
                _ = try await notifier.subscribe(merchant, url: url, types: ["EXCHANGE_CREATED"])
                _ = try await notifier.subscribe(merchant, url: url + "?second", types: ["EXCHANGE_CREATED"])
                let processes = try (0..<2).map { _ in
                    try SwaplineExecutable.launch(Self.notifierOnly, database: notifier.database, environment: Self.environment())
                }
                defer { for process in processes where process.isRunning { process.terminate() } }
                for _ in 0..<25 { _ = try await notifier.exchange(merchant, amount: "10") }
                _ = try await eventually("50 deliveries delivered", within: 30) {
                    try await notifier.deliveryCount(status: "DELIVERED") == 50 ? true : nil
                }
                #expect(try await notifier.deliveryCount() == 50)
                let ids = receiver.received.map(\.webhookId)
                #expect(ids.count == 50, "no delivery was sent twice")
                #expect(Set(ids).count == 50)
                for process in processes {
                    process.terminate()
                    process.waitUntilExit()
                    #expect(process.terminationStatus == 0, "SIGTERM drains and exits 0")
                }
            }
        }
    }
}
