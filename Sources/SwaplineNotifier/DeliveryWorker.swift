import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceLifecycle
import SwaplineEventStore
import Synchronization

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
    /// Longer than a claimed delivery's wait for a slot (up to three sends ahead of it, see
    /// `run`) plus its own send, so a live worker never loses its lease mid-send.
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
        self.leaseSeconds = 4 * timeoutSeconds + 30
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
        await record(delivery, outcome: await send(delivery))
    }

    /// Signs (with this attempt's timestamp) and posts one claimed delivery.
    func send(_ delivery: ClaimedDelivery) async -> AttemptOutcome {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = WebhookSignature.headers(webhookId: delivery.webhookId, timestamp: timestamp, body: delivery.body, secrets: delivery.secrets)
        return await sender.send(url: delivery.url, body: delivery.body, headers: headers)
    }

    /// Records an attempt's outcome and counts it.
    func record(_ delivery: ClaimedDelivery, outcome: AttemptOutcome) async {
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

    /// Runs until graceful shutdown, which stops claiming and lets the deliveries it holds be sent
    /// and recorded.
    ///
    /// Sending is what the endpoints see, so only the sends count against `concurrency`. The
    /// claim and the record are database round trips around each send; when they held a slot,
    /// the slots were empty more than half the time (benchmark: 16 slots, 3.9 ms to send, 4.2 ms
    /// to record, 5 ms to claim a batch, 865 deliveries/s). So the loop claims ahead (up to
    /// 3 × `concurrency` deliveries wait for a slot, in claim order), a delivery frees its slot
    /// as soon as its response is in, and its record is batched with the others' afterwards.
    ///
    /// The lease still covers all of it: every slot frees within one timeout, so a waiting
    /// delivery has a slot within three, and the lease is four timeouts plus 30 s.
    public func run() async throws {
        let doorbell = Doorbell()
        let slots = SendSlots(concurrency)
        // Claimed and not yet sent: waiting for a slot or sending.
        let unsent = BusyCount()
        // Claimed and not yet recorded; bounds how many records may queue behind a slow database.
        let unrecorded = BusyCount()
        let client = store.client
        let logger = self.logger
        let claimAhead = 4 * concurrency
        let recordBacklog = 8 * concurrency
        await withTaskGroup(of: Void.self) { listeners in
            listeners.addTask { await doorbell.listen(on: WebhookDispatcher.notificationChannel, client: client, logger: logger) }
            listeners.addTask {
                try? await gracefulShutdown()
                await doorbell.ring()
            }
            await withDiscardingTaskGroup { deliveries in
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
                    let held = unsent.count
                    let room = min(claimAhead - held, recordBacklog - unrecorded.count)
                    var wait: Duration = .seconds(1)
                    // Claim in batches: each claim is a round trip, so claiming one slot as each
                    // send finished made the claims, not the sends, the limit (seen in the benchmark).
                    if room > 0 && (held == 0 || room >= max(1, concurrency / 2)) {
                        do {
                            let claimed = try await store.claim(limit: room, leaseSeconds: leaseSeconds)
                            unsent.add(claimed.count)
                            unrecorded.add(claimed.count)
                            for delivery in claimed {
                                deliveries.addTask {
                                    await slots.acquire()
                                    let outcome = await self.send(delivery)
                                    slots.release()
                                    unsent.add(-1)
                                    // A freed slot lets the loop claim more.
                                    await doorbell.ring()
                                    await self.record(delivery, outcome: outcome)
                                    unrecorded.add(-1)
                                    // A recorded delivery may let the exchange's next webhook go.
                                    await doorbell.ring()
                                }
                            }
                            if claimed.count == room { continue }
                            // Sleep until the next retry is due, at most a second (the slow poll).
                            if let due = try await store.secondsUntilNextAttempt() {
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

/// The delivery worker's send slots: at most `count` sends at once; waiters get a slot in the
/// order they asked (claim order), so none waits longer than one send.
final class SendSlots: Sendable {
    private struct State {
        var free: Int
        var waiters = CircularBuffer<CheckedContinuation<Void, Never>>()
    }
    private let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(free: count))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.popFirst() { return waiter }
            state.free += 1
            return nil
        }
        next?.resume()
    }
}
