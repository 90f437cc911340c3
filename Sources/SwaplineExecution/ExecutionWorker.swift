import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections

/// Carries requested exchanges through quote → submit → complete or fail.
///
/// Work comes from `execution_queue`, written in the create's transaction and deleted in the
/// terminal event's, and is claimed with a lease (`FOR UPDATE SKIP LOCKED`) so any number of
/// workers can run. Every step is decided from the exchange's events, so a worker that crashed
/// anywhere resumes where the events say it was; the venue's client order id makes a
/// resubmission harmless, and `status` tells a crashed worker whether the venue already filled.
public struct ExecutionWorker: Service {
    public let client: PostgresClient
    public let store: EventStore
    /// Shared by the services of one process so each stream is rebuilt from where it was last seen.
    public let aggregates: AggregateLoader
    public let venue: any Venue
    /// The market as configured; `market` is it with the pair kill switch applied.
    public let configuredMarket: Market
    /// The pairs switched off at run time (nil: only the configured market counts).
    public let pairSwitches: PairSwitches?
    public var market: Market { pairSwitches?.applied(to: configuredMarket) ?? configuredMarket }
    public let deadlineSeconds: Int
    public let leaseSeconds: Int
    public let batchSize: Int
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// Called after the venue reports a fill and before the outcome is recorded; tests throw
    /// from it to simulate a crash at the worst moment.
    let beforeRecordingOutcome: @Sendable (ExchangeID) async throws -> Void
    /// `swapline_exchanges_total{state="completed|failed"}` and `swapline_execution_seconds{state=…}`
    /// (request to terminal event), recorded when this worker commits the terminal event.
    let outcomeCounters: [ExchangeStatus: Counter]
    let executionTimers: [ExchangeStatus: Metrics.Timer]

    public static let notificationChannel = ExchangeService.executionChannel

    public init(
        client: PostgresClient,
        venue: any Venue,
        market: Market,
        deadlineSeconds: Int = 120,
        leaseSeconds: Int = 30,
        batchSize: Int = 32,
        logger: Logger,
        aggregates: AggregateLoader? = nil,
        now: @escaping @Sendable () -> Date = Date.init,
        beforeRecordingOutcome: @escaping @Sendable (ExchangeID) async throws -> Void = { _ in },
        metrics: any MetricsFactory = MetricsSystem.factory,
        pairSwitches: PairSwitches? = nil
    ) {
        self.pairSwitches = pairSwitches
        self.client = client
        self.store = EventStore(client: client, logger: logger, projecting: AppendDequeueingFinished.self)
        self.aggregates = aggregates ?? AggregateLoader(store: self.store)
        self.venue = venue
        self.configuredMarket = market
        self.deadlineSeconds = deadlineSeconds
        self.leaseSeconds = leaseSeconds
        self.batchSize = batchSize
        self.logger = logger
        self.now = now
        self.beforeRecordingOutcome = beforeRecordingOutcome
        let outcomes: [(ExchangeStatus, String)] = [(.completed, "completed"), (.failed, "failed")]
        self.outcomeCounters = Dictionary(
            uniqueKeysWithValues: outcomes.map { status, name in
                (status, Counter(label: "swapline_exchanges_total", dimensions: [("state", name)], factory: metrics))
            })
        self.executionTimers = Dictionary(
            uniqueKeysWithValues: outcomes.map { status, name in
                (status, Metrics.Timer(label: "swapline_execution_seconds", dimensions: [("state", name)], factory: metrics))
            })
    }

    /// Runs until graceful shutdown: woken by NOTIFY on new work, polling as a fallback. Up to
    /// `batchSize` exchanges are carried at once, and a free slot is filled as soon as work is
    /// due: waiting for a whole claimed batch before claiming again made each new exchange wait
    /// for the slowest of the previous batch. On shutdown it claims nothing new and returns once
    /// the exchanges in progress have finished their step.
    public func run() async throws {
        let doorbell = Doorbell()
        let busy = BusyCount()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await doorbell.listen(on: Self.notificationChannel, client: client, logger: logger)
            }
            group.addTask {
                try? await gracefulShutdown()
                await doorbell.ring()
            }
            await withDiscardingTaskGroup { steps in
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let free = batchSize - busy.count
                    var wait: Duration = .milliseconds(500)
                    if free > 0 {
                        do {
                            let claimed = try await claim(limit: free)
                            busy.add(claimed.count)
                            for id in claimed {
                                steps.addTask {
                                    do {
                                        try await advance(id)
                                    } catch {
                                        logger.error(
                                            "exchange step failed", metadata: ["exchange": "\(id)", "error": "\(String(reflecting: error))"])
                                    }
                                    // A worker at capacity waits for a slot: this one is free now.
                                    if busy.add(-1) == batchSize { await doorbell.ring() }
                                }
                            }
                            if claimed.count == free { continue }
                        } catch {
                            logger.error("execution pass failed", metadata: ["error": "\(String(reflecting: error))"])
                            wait = .seconds(1)
                        }
                    }
                    await doorbell.wait(upTo: wait)
                }
            }
            group.cancelAll()
        }
    }

    /// Claims due exchanges and advances each as far as it can go now; returns how many it claimed.
    @discardableResult
    public func runOnce() async throws -> Int {
        let claimed = try await claim()
        await withTaskGroup(of: Void.self) { group in
            for id in claimed {
                group.addTask {
                    do {
                        try await advance(id)
                    } catch {
                        logger.error("exchange step failed", metadata: ["exchange": "\(id)", "error": "\(String(reflecting: error))"])
                    }
                }
            }
        }
        return claimed.count
    }

    func claim(limit: Int? = nil) async throws -> [ExchangeID] {
        let rows = try await client.execute(Prepared(Claim.self, try PostgresBindings(leaseSeconds, limit ?? batchSize)), logger: logger)
        var ids: [ExchangeID] = []
        for try await row in rows { ids.append(try row.decode(Int64.self)) }
        return ids
    }

    enum Claim: PreparedSQL {
        static let sql = """
            UPDATE execution_queue SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
            WHERE exchange_id IN (
                SELECT exchange_id FROM execution_queue
                WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                ORDER BY due_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
            RETURNING exchange_id
            """
    }

    enum Dequeue: PreparedSQL {
        static let sql = "DELETE FROM execution_queue WHERE exchange_id = $1"
    }

    /// One exchange, step by step, until it is finished or has to wait for the venue.
    ///
    /// Each step decides on the exchange as this process last saw it (a guess, no read); a step
    /// whose append then loses to another writer, or that the guess makes illegal, is decided
    /// again from the stream.
    func advance(_ id: ExchangeID) async throws {
        var guessing = true
        for _ in 0..<10 {
            let loaded = guessing ? try await aggregates.guessExchange(id) : try await aggregates.loadExchange(id)
            guard let state = loaded.state, !state.status.isTerminal else {
                try await dequeue(id)
                return
            }
            do {
                if try await step(state, version: loaded.version) { return }
            } catch let error where guessing && (error is EventStoreError || error is DomainError) {
                guessing = false
            }
        }
    }

    /// Takes the next step of a live exchange; true when it is finished for now (terminal, or
    /// waiting for the venue or a rate), false when the next step can follow at once.
    private func step(_ state: ExchangeState, version: Int64) async throws -> Bool {
        let id = state.id
        let metadata = EventMetadata(actor: "execution-worker", correlationId: "exchange-\(id)")
        switch state.status {
        case .requested:
            let pair = state.request.price.pair
            guard market.pairs[pair]?.isEnabled == true else {
                try await fail(state, version: version, reason: .pairDisabled, detail: "pair \(pair) is disabled", metadata: metadata)
                return true
            }
            guard let rate = try? market.currentRate(pair, now: now()) else {
                // No fresh rate yet: try again shortly; the deadline bounds how long.
                if try await failIfPastDeadline(state, version: version, metadata: metadata) { return true }
                try await reschedule(id, after: .seconds(1))
                return true
            }
            let quoted = state.request.price.rate
            if quoted > 0, (quoted - rate) / quoted > market.rateTolerance {
                try await fail(
                    state, version: version, reason: .rateMoved,
                    detail: "rate moved from \(quoted.plainText) to \(rate.plainText)", metadata: metadata)
                return true
            }
            // Quoted and submitted in one transaction: the submission is still recorded before the
            // venue hears of it, and one commit fewer took ~50 ms off each exchange under load.
            let quotedEvents = try Exchange.decide(.quote(executionRate: rate, at: now()), state: state)
            let quotedState = quotedEvents.reduce(state) { Exchange.evolve($0, $1) }
            let submittedEvents = try Exchange.decide(.submit(clientOrderId: "swapline-\(id)", at: now()), state: quotedState)
            try await append(id, version: version, quotedEvents + submittedEvents, state: state, metadata: metadata)
            return false
        case .quoted:
            // Quoted by a worker that recorded the quote on its own (before 2026-11-30).
            let events = try Exchange.decide(.submit(clientOrderId: "swapline-\(id)", at: now()), state: state)
            try await append(id, version: version, events, state: state, metadata: metadata)
            return false
        case .submitted:
            let clientOrderId = state.clientOrderId ?? "swapline-\(id)"
            var status = try await venue.status(clientOrderId: clientOrderId)
            if status == .unknown {
                // Crashed between recording the submission and sending it: send it now.
                let price = state.request.price
                status = try await venue.submit(
                    VenueOrder(clientOrderId: clientOrderId, pair: price.pair, sourceAmount: price.sourceAmount, destinationAmount: price.destinationAmount))
            }
            if status == .pending, now() > state.request.requestedAt.addingTimeInterval(TimeInterval(deadlineSeconds)) {
                status = try await venue.cancel(clientOrderId: clientOrderId)
                if status == .pending || status == .cancelled {
                    try await fail(state, version: version, reason: .venueTimeout, detail: "venue did not fill in time", metadata: metadata)
                    return true
                }
            }
            switch status {
            case .filled:
                try await beforeRecordingOutcome(id)
                try await complete(state, version: version, metadata: metadata)
                return true
            case .rejected(let reason):
                try await fail(state, version: version, reason: .venueRejected, detail: reason, metadata: metadata)
                return true
            case .cancelled:
                try await fail(state, version: version, reason: .venueTimeout, detail: "cancelled at the venue", metadata: metadata)
                return true
            case .pending, .unknown:
                try await reschedule(id, after: .milliseconds(50))
                return true
            }
        case .completed, .failed:
            try await dequeue(id)
            return true
        }
    }

    private func append(_ id: ExchangeID, version: Int64, _ decided: [ExchangeEvent], state: ExchangeState, metadata: EventMetadata) async throws {
        let events = try decided.map { try Streams.newEvent($0, metadata: metadata) }
        try await store.append([StreamAppend(streamId: Streams.exchange(id), expectedVersion: .exact(version), events: events)])
        try? await aggregates.appended(events, toExchange: id, after: Loaded(state: state, version: version))
    }

    /// The exchange's terminal event and the account's settlement, in one transaction, with
    /// the queue row removed in the same commit.
    private func complete(_ state: ExchangeState, version: Int64, metadata: EventMetadata) async throws {
        let at = now()
        let price = state.request.price
        let recorded = try await finish(state, version: version, exchangeCommand: .complete(at: at), metadata: metadata) {
            .settle(exchangeId: state.id, destinationCurrency: price.pair.destination, destinationAmount: price.destinationAmount, at: at)
        }
        if recorded { observe(state, .completed, at: at) }
    }

    private func fail(_ state: ExchangeState, version: Int64, reason: FailureReason, detail: String?, metadata: EventMetadata) async throws {
        let at = now()
        let recorded = try await finish(state, version: version, exchangeCommand: .fail(reason, detail: detail, at: at), metadata: metadata) {
            .release(exchangeId: state.id, reason: reason, at: at)
        }
        if recorded {
            observe(state, .failed, at: at)
            logger.notice("exchange failed", metadata: ["exchange_id": "\(state.id)", "reason": "\(reason.rawValue)", "detail": "\(detail ?? "")"])
        }
    }

    /// Counts a terminal event this worker committed and times it from the request.
    private func observe(_ state: ExchangeState, _ status: ExchangeStatus, at: Date) {
        outcomeCounters[status]?.increment()
        let seconds = max(0, at.timeIntervalSince(state.request.requestedAt))
        executionTimers[status]?.recordNanoseconds(Int64(seconds * 1_000_000_000))
    }

    /// True if this call committed the terminal event; false if the exchange moved meanwhile.
    private func finish(
        _ state: ExchangeState, version: Int64, exchangeCommand: ExchangeCommand, metadata: EventMetadata,
        accountCommand: () -> AccountCommand
    ) async throws -> Bool {
        let exchangeEvents = try Exchange.decide(exchangeCommand, state: state).map { try Streams.newEvent($0, metadata: metadata) }
        for attempt in 0..<100 {
            // The first try settles against the account as this process last saw it (no read).
            let guessed = attempt == 0
            let account =
                guessed ? try await aggregates.guessAccount(state.request.account) : try await aggregates.loadAccount(state.request.account)
            let accountEvents: [NewEvent]
            do {
                accountEvents = try Account.decide(accountCommand(), state: account.state).map { try Streams.newEvent($0, metadata: metadata) }
            } catch where guessed {
                continue
            }
            let appends = [
                StreamAppend(streamId: Streams.exchange(state.id), expectedVersion: .exact(version), events: exchangeEvents),
                StreamAppend(streamId: Streams.account(state.request.account), expectedVersion: account.expectedVersion, events: accountEvents),
            ]
            do {
                // One statement: the events, the read models and the queue entry's removal.
                try await store.append(appends)
                try? await aggregates.appended(exchangeEvents, toExchange: state.id, after: Loaded(state: state, version: version))
                try? await aggregates.appended(accountEvents, toAccount: state.request.account, after: account)
                return true
            } catch is EventStoreError {
                // The account moved (another exchange); if the exchange itself moved, stop and let
                // the next pass decide from its events.
                let current = try await aggregates.loadExchange(state.id)
                if current.version != version { return false }
            }
        }
        throw SwaplineError(.serviceUnavailable, "account \(state.request.account) too busy to settle exchange \(state.id)")
    }

    private func failIfPastDeadline(_ state: ExchangeState, version: Int64, metadata: EventMetadata) async throws -> Bool {
        guard now() > state.request.requestedAt.addingTimeInterval(TimeInterval(deadlineSeconds)) else { return false }
        try await fail(state, version: version, reason: .venueTimeout, detail: "no rate before the deadline", metadata: metadata)
        return true
    }

    private func reschedule(_ id: ExchangeID, after delay: Duration) async throws {
        let milliseconds = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        try await client.query(
            """
            UPDATE execution_queue SET due_at = now() + make_interval(secs => \(milliseconds) / 1000.0), lease_until = NULL
            WHERE exchange_id = \(id)
            """,
            logger: logger)
    }

    private func dequeue(_ id: ExchangeID) async throws {
        try await client.run(Dequeue.self, try PostgresBindings(id), logger: logger)
    }
}

/// Takes a finished exchange out of the execution queue in the statement that appends its
/// terminal event: a settlement is one statement, no transaction held open across round trips.
struct DequeueFinishedExchanges: InlineProjection {
    func writes(reading source: String) -> String {
        """
        execution_dequeued AS (
            DELETE FROM execution_queue WHERE exchange_id IN (
                SELECT substr(events.stream_id, 10)::bigint FROM \(source) AS events
                WHERE events.event_type IN ('ExchangeCompleted', 'ExchangeFailed') AND events.stream_id LIKE 'exchange-%')
        )
        """
    }
}

/// The execution worker's append statement: the events, the inline read models, and a finished
/// exchange's queue entry removed.
enum AppendDequeueingFinished: ProjectingAppend {
    static let sql = EventStore.appendSQL(projecting: ReadModels.inline + [DequeueFinishedExchanges()])
}
