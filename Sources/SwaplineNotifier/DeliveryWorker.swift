import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SwaplineEventStore

/// Sends due deliveries: claims them under a lease (`FOR UPDATE SKIP LOCKED`, so any number of
/// workers in any number of processes share the queue and none sends what another holds),
/// posts them signed, and records every attempt. A worker that dies mid-send leaves its lease
/// to run out, and another sends the delivery again: at least once, never lost.
public struct DeliveryWorker: Service {
    public let store: DeliveryStore
    public let sender: WebhookSender
    public let policy: RetryPolicy
    /// Deliveries this worker sends at once; a slow endpoint takes one slot, not the worker.
    public let concurrency: Int
    /// Longer than a whole attempt, so a live worker never loses its lease mid-send.
    public let leaseSeconds: Double
    public let blockErrors: Int
    public let blockWindowSeconds: Double
    public let logger: Logger
    let outcomes: @Sendable (String) -> Counter
    /// `swapline_webhook_queue_depth`: pending deliveries due now, sampled by `run` at most once a second.
    let queueDepth: Gauge

    public init(
        store: DeliveryStore, sender: WebhookSender, policy: RetryPolicy = .calypso, concurrency: Int = 16, timeoutSeconds: Double = 15,
        blockErrors: Int = 100, blockWindowSeconds: Double = 600, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = store
        self.sender = sender
        self.policy = policy
        self.concurrency = concurrency
        self.leaseSeconds = timeoutSeconds + 30
        self.blockErrors = blockErrors
        self.blockWindowSeconds = blockWindowSeconds
        self.logger = logger
        self.outcomes = { outcome in
            Counter(label: "swapline_webhook_deliveries_total", dimensions: [("outcome", outcome)], factory: metrics)
        }
        self.queueDepth = Gauge(label: "swapline_webhook_queue_depth", factory: metrics)
    }

    /// Counts the pending deliveries that are due now and records the count in the gauge.
    @discardableResult
    public func recordQueueDepth() async throws -> Int {
        let rows = try await store.client.query(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= now()", logger: logger)
        var depth = 0
        for try await count in rows.decode(Int64.self) { depth = Int(count) }
        queueDepth.record(depth)
        return depth
    }

    /// Claims what is due now (up to `limit`), sends it all and records the outcomes; returns how
    /// many were sent. For tests and tools; `run` does the same continuously.
    @discardableResult
    public func runOnce(limit: Int? = nil) async throws -> Int {
        let claimed = try await store.claim(limit: limit ?? concurrency, leaseSeconds: leaseSeconds)
        await withTaskGroup(of: Void.self) { group in
            for delivery in claimed { group.addTask { await self.deliver(delivery) } }
        }
        return claimed.count
    }

    /// Sends one claimed delivery and records the attempt.
    func deliver(_ delivery: ClaimedDelivery) async {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = WebhookSignature.headers(webhookId: delivery.webhookId, timestamp: timestamp, body: delivery.body, secrets: delivery.secrets)
        let outcome = await sender.send(url: delivery.url, body: delivery.body, headers: headers)
        do {
            let result = try await store.record(
                delivery, outcome: outcome, policy: policy, blockErrors: blockErrors, blockWindowSeconds: blockWindowSeconds)
            switch result {
            case .delivered: outcomes("delivered").increment()
            case .retrying: outcomes("failed").increment()
            case .dead: outcomes("dead").increment()
            case .leaseLost: outcomes("lease_lost").increment()
            }
            if result != .delivered {
                logger.info(
                    "webhook not delivered",
                    metadata: [
                        "delivery": "\(delivery.deliveryId)", "webhook_id": "\(delivery.webhookId)", "result": "\(result)",
                        "error": "\(outcome.error ?? "")",
                    ])
            }
        } catch {
            // The lease runs out and the delivery is sent again: at least once.
            logger.error("recording a webhook attempt failed", metadata: ["delivery": "\(delivery.deliveryId)", "error": "\(String(reflecting: error))"])
        }
    }

    /// Runs until graceful shutdown, which stops claiming and lets the sends in flight finish.
    public func run() async throws {
        let doorbell = Doorbell()
        let inFlight = BusyCount()
        let client = store.client
        let logger = self.logger
        await withTaskGroup(of: Void.self) { listeners in
            listeners.addTask { await doorbell.listen(on: WebhookDispatcher.notificationChannel, client: client, logger: logger) }
            listeners.addTask {
                try? await gracefulShutdown()
                await doorbell.ring()
            }
            await withDiscardingTaskGroup { sends in
                var depthRecordedAt: ContinuousClock.Instant?
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    if depthRecordedAt.map({ $0.duration(to: .now) >= .seconds(1) }) ?? true {
                        depthRecordedAt = .now
                        do {
                            try await recordQueueDepth()
                        } catch {
                            logger.warning("counting pending webhook deliveries failed", metadata: ["error": "\(String(reflecting: error))"])
                        }
                    }
                    let busy = inFlight.count
                    let free = concurrency - busy
                    var wait: Duration = .seconds(1)
                    // Claim in batches: each claim is a round trip, so claiming one slot as each
                    // send finishes made the claims, not the sends, the limit (seen in the benchmark).
                    if free > 0 && (busy == 0 || free >= max(1, concurrency / 2)) {
                        do {
                            let claimed = try await store.claim(limit: free, leaseSeconds: leaseSeconds)
                            inFlight.add(claimed.count)
                            for delivery in claimed {
                                sends.addTask {
                                    await self.deliver(delivery)
                                    inFlight.add(-1)
                                    // A finished send frees a slot and may let the exchange's next webhook go.
                                    await doorbell.ring()
                                }
                            }
                            if claimed.count == free { continue }
                            // Sleep until the next retry is due, at most a second (the slow poll).
                            if let due = try await store.secondsUntilNextDue() {
                                wait = .milliseconds(Int64(min(1, max(0.005, due)) * 1000))
                            }
                        } catch {
                            logger.error("claiming webhook deliveries failed", metadata: ["error": "\(String(reflecting: error))"])
                        }
                    }
                    await doorbell.wait(upTo: wait)
                }
            }
            listeners.cancelAll()
        }
        await sender.shutdown()
    }
}
