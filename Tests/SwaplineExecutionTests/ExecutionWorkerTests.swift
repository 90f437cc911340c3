import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
@testable import SwaplineExecution
import SwaplineTestSupport
import Testing

// MARK: - Fixtures

/// Decimal from text: float literals would go through Double, which money must never touch.
func dec(_ text: String) -> Decimal {
    guard let value = try? Amount.parseSignedDecimal(text) else {
        preconditionFailure("bad decimal literal \(text)")
    }
    return value
}

let usdt: Currency = "USDT_TRX"
let usdc: Currency = "USDC_ETH"
let btc: Currency = "BTC"
let eth: Currency = "ETH"
let usdtBTC = CurrencyPair(usdt, btc)

/// Thrown by `beforeRecordingOutcome`: the worker dies after the venue filled, before the outcome is written.
struct SimulatedCrash: Error {}

/// Thrown by `UnreachableVenue`: the submission never reaches the venue.
struct VenueUnreachable: Error {}

/// A venue the worker cannot reach: it knows no order and refuses every submission.
struct UnreachableVenue: Venue {
    func submit(_ order: VenueOrder) async throws -> VenueOrderStatus { throw VenueUnreachable() }
    func status(clientOrderId: String) async throws -> VenueOrderStatus { .unknown }
    func cancel(clientOrderId: String) async throws -> VenueOrderStatus { throw VenueUnreachable() }
}

/// A logger for workers whose failures are the point of the test, so expected errors stay out of the output.
let quietLogger: Logger = {
    var logger = Logger(label: "swapline.test.worker")
    logger.logLevel = .critical
    return logger
}()

/// Services, workers and probes over one test database.
struct Harness: Sendable {
    let database: TestDatabase
    let market: Market
    let accounts: AccountService
    let exchanges: ExchangeService
    let store: EventStore

    init(_ database: TestDatabase, market: Market = .defaults) throws {
        self.database = database
        self.market = market
        let secrets = try SecretBox(base64MasterKey: SecretBox.generateMasterKey())
        accounts = AccountService(client: database.app, secrets: secrets, market: market, logger: database.logger)
        exchanges = ExchangeService(client: database.app, market: market, logger: database.logger)
        store = EventStore(client: database.app, logger: database.logger)
    }

    /// A new account credited with `deposits` (currency, amount text).
    func openAccount(_ name: String = "merchant", deposits: [(Currency, String)]) async throws -> AccountID {
        let account = try await accounts.create(name: name).account
        for (currency, amount) in deposits {
            _ = try await accounts.deposit(account: account, currency: currency, amountText: amount)
        }
        return account
    }

    /// Creates a SELL exchange of `amount` on `pair`.
    func exchange(_ account: AccountID, _ pair: CurrencyPair = usdtBTC, _ amount: String = "100") async throws -> ExchangeState {
        try await exchanges.create(
            account: account, request: CreateExchangeRequest(pair: pair, amountText: amount), metadata: EventMetadata(actor: "test"))
    }

    func venue(latencyMilliseconds: Int = 0, failureRate: String = "0", seed: UInt64 = 1) -> SimulatedVenue {
        SimulatedVenue(
            client: database.app, latencyMilliseconds: latencyMilliseconds, failureRate: dec(failureRate), seed: seed,
            logger: database.logger)
    }

    func worker(
        venue: (any Venue)? = nil,
        market: Market? = nil,
        deadlineSeconds: Int = 120,
        leaseSeconds: Int = 30,
        quiet: Bool = false,
        now: @escaping @Sendable () -> Date = Date.init,
        beforeRecordingOutcome: @escaping @Sendable (ExchangeID) async throws -> Void = { _ in }
    ) -> ExecutionWorker {
        ExecutionWorker(
            client: database.app, venue: venue ?? self.venue(), market: market ?? self.market, deadlineSeconds: deadlineSeconds,
            leaseSeconds: leaseSeconds, logger: quiet ? quietLogger : database.logger, now: now,
            beforeRecordingOutcome: beforeRecordingOutcome)
    }

    /// The exchange as a client sees it (`exchange/get`).
    func get(_ exchange: ExchangeState) async throws -> ExchangeState {
        try await exchanges.get(account: exchange.request.account, id: exchange.id)
    }

    /// Runs `worker` pass after pass until every exchange is COMPLETED or FAILED.
    @discardableResult
    func runUntilFinished(_ worker: ExecutionWorker, _ created: [ExchangeState], within seconds: Int = 10) async throws -> [ExchangeState] {
        try await eventually("exchanges \(created.map(\.id)) finished", within: seconds) {
            try await worker.runOnce()
            var states: [ExchangeState] = []
            for exchange in created {
                let state = try await get(exchange)
                guard state.status.isTerminal else { return nil }
                states.append(state)
            }
            return states
        }
    }

    func exchangeEvents(_ id: ExchangeID) async throws -> [ExchangeEvent] {
        try await store.readStream(Streams.exchange(id)).map(Streams.exchangeEvent)
    }

    func eventTypes(_ id: ExchangeID) async throws -> [String] {
        try await store.readStream(Streams.exchange(id)).map(\.eventType)
    }

    /// How many `ExchangeSettled` events the account's stream holds for the exchange.
    func settlements(_ account: AccountID, exchange id: ExchangeID) async throws -> Int {
        try await store.readStream(Streams.account(account)).map(Streams.accountEvent).filter {
            if case .settled(let settled) = $0 { return settled.exchangeId == id }
            return false
        }.count
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        let rows = try await database.owner.query(query, logger: database.logger)
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return 0
    }

    func queueLength() async throws -> Int {
        try await count("SELECT count(*) FROM execution_queue")
    }

    /// Makes every claimed exchange claimable again, as if its worker's lease ran out.
    /// An exchange that failed before reaching the venue: two events, no order at the venue,
    /// the hold released in full, nothing left to execute.
    func expectFailedBeforeTheVenue(
        _ done: ExchangeState, _ reason: FailureReason, account: AccountID, venue: SimulatedVenue,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(done.status.publicState == "FAILED", sourceLocation: sourceLocation)
        #expect(done.failureReason == reason, sourceLocation: sourceLocation)
        #expect(try await eventTypes(done.id) == ["ExchangeRequested", "ExchangeFailed"], sourceLocation: sourceLocation)
        #expect(try await venue.status(clientOrderId: "swapline-\(done.id)") == .unknown, sourceLocation: sourceLocation)
        let after = try await accounts.state(of: account)
        #expect(after.availableBalance(usdt) == dec("1000"), sourceLocation: sourceLocation)
        #expect(after.heldBalance(usdt) == 0, sourceLocation: sourceLocation)
        #expect(after.availableBalance(btc) == 0, sourceLocation: sourceLocation)
        #expect(try await queueLength() == 0, sourceLocation: sourceLocation)
    }

    func expireLeases() async throws {
        try await database.owner.query("UPDATE execution_queue SET lease_until = NULL", logger: database.logger)
    }
}

/// The default market with `pair`'s mid rate multiplied by `factor`.
func market(_ pair: CurrencyPair, rateTimes factor: String) -> Market {
    var moved = Market.defaults
    moved.pairs[pair]?.rate *= dec(factor)
    return moved
}

// MARK: - Execution worker

@Suite("Execution worker against PostgreSQL")
struct ExecutionWorkerTests {
    @Test func completesAnExchangeAndSettlesTheAccountExactly() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account, usdtBTC, "100")
            #expect(created.status.publicState == "IN_PROGRESS")
            #expect(created.request.price.sourceAmount == dec("100"))
            // (100 − 0.10 fee) × roundDown(roundDown(1 / 96000, 12) × 0.998, 12), rounded down to 8 decimals.
            #expect(created.request.price.destinationAmount == dec("0.00103854"))
            let held = try await harness.accounts.state(of: account)
            #expect(held.availableBalance(usdt) == dec("900"))
            #expect(held.heldBalance(usdt) == dec("100"))

            let worker = harness.worker()
            let done = try await eventually("exchange completed") {
                try await worker.runOnce()
                let state = try await harness.get(created)
                return state.status.publicState == "COMPLETED" ? state : nil
            }
            #expect(done.status == .completed)
            #expect(done.completed?.sourceAmount == created.request.price.sourceAmount)
            #expect(done.completed?.destinationAmount == created.request.price.destinationAmount)
            #expect(done.failureReason == nil)

            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("1000") - created.request.price.sourceAmount)
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.held.isEmpty)
            #expect(after.holds.isEmpty)
            #expect(after.availableBalance(btc) == created.request.price.destinationAmount)

            #expect(
                try await harness.eventTypes(created.id) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted"])
            #expect(try await harness.settlements(account, exchange: created.id) == 1)
            #expect(try await harness.queueLength() == 0)
            #expect(try await harness.venue().fillCount(clientOrderId: "swapline-\(created.id)") == 1)

            // Nothing is left to do: another pass claims nothing and changes nothing.
            #expect(try await worker.runOnce() == 0)
            #expect(try await harness.eventTypes(created.id).count == 4)
        }
    }

    @Test func aWorkerThatCrashedAfterTheFillIsReconciledNotExecutedTwice() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let clientOrderId = "swapline-\(created.id)"
            let venue = harness.venue()

            let crashing = harness.worker(venue: venue, quiet: true, beforeRecordingOutcome: { _ in throw SimulatedCrash() })
            #expect(try await crashing.runOnce() == 1)

            // The venue filled, but nothing of the outcome was recorded.
            let stranded = try await harness.get(created)
            #expect(stranded.status == .submitted)
            #expect(stranded.status.publicState == "IN_PROGRESS")
            #expect(stranded.clientOrderId == clientOrderId)
            #expect(try await venue.status(clientOrderId: clientOrderId) == .filled)
            #expect(try await venue.fillCount(clientOrderId: clientOrderId) == 1)
            #expect(try await harness.eventTypes(created.id) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted"])
            let mid = try await harness.accounts.state(of: account)
            #expect(mid.availableBalance(usdt) == dec("900"))
            #expect(mid.heldBalance(usdt) == dec("100"))
            #expect(mid.availableBalance(btc) == 0)
            #expect(try await harness.queueLength() == 1)

            // While the dead worker's lease runs, nobody else takes the exchange.
            let fresh = harness.worker(venue: harness.venue())
            #expect(try await fresh.runOnce() == 0)

            try await harness.expireLeases()
            let done = try await harness.runUntilFinished(fresh, [created])
            #expect(done[0].status.publicState == "COMPLETED")
            #expect(try await venue.fillCount(clientOrderId: clientOrderId) == 1)
            #expect(try await harness.count("SELECT count(*) FROM venue_orders") == 1)
            #expect(
                try await harness.eventTypes(created.id) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted"])
            #expect(try await harness.settlements(account, exchange: created.id) == 1)
            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("900"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.availableBalance(btc) == created.request.price.destinationAmount)
            #expect(try await harness.queueLength() == 0)
        }
    }

    @Test func aSubmissionRecordedButNeverReceivedIsSentOnceOnResume() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let clientOrderId = "swapline-\(created.id)"
            let venue = harness.venue()

            // ExchangeSubmitted is written, then the venue cannot be reached.
            #expect(try await harness.worker(venue: UnreachableVenue(), quiet: true).runOnce() == 1)
            #expect(try await harness.get(created).status == .submitted)
            #expect(try await venue.status(clientOrderId: clientOrderId) == .unknown)

            try await harness.expireLeases()
            let done = try await harness.runUntilFinished(harness.worker(venue: venue), [created])
            #expect(done[0].status == .completed)
            #expect(try await venue.fillCount(clientOrderId: clientOrderId) == 1)
            #expect(try await harness.settlements(account, exchange: created.id) == 1)
            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("900"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.availableBalance(btc) == created.request.price.destinationAmount)
        }
    }

    @Test func aVenueRejectionFailsTheExchangeAndReleasesTheHold() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let venue = harness.venue(failureRate: "1")

            let done = try await harness.runUntilFinished(harness.worker(venue: venue), [created])
            #expect(done[0].status.publicState == "FAILED")
            #expect(done[0].failureReason == .venueRejected)
            #expect(done[0].completed == nil)
            #expect(try await venue.status(clientOrderId: "swapline-\(created.id)") == .rejected("rejected by the simulated venue"))
            #expect(try await venue.fillCount(clientOrderId: "swapline-\(created.id)") == 0)
            #expect(try await harness.eventTypes(created.id) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeFailed"])

            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("1000"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.holds.isEmpty)
            #expect(after.availableBalance(btc) == 0)
            #expect(after.usedToday(usdt, now: Date()) == 0)
            #expect(try await harness.queueLength() == 0)
        }
    }

    @Test func anOrderTheVenueNeverFillsTimesOutAtTheDeadline() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let clientOrderId = "swapline-\(created.id)"
            let venue = harness.venue(latencyMilliseconds: 600_000)

            // Before the deadline the order waits at the venue and the exchange stays in progress.
            let patient = harness.worker(venue: venue, deadlineSeconds: 120)
            #expect(try await patient.runOnce() == 1)
            #expect(try await harness.get(created).status == .submitted)
            #expect(try await venue.status(clientOrderId: clientOrderId) == .pending)
            #expect(try await harness.accounts.state(of: account).heldBalance(usdt) == dec("100"))
            #expect(try await harness.queueLength() == 1)

            // A worker whose clock is past `requestedAt + deadlineSeconds` cancels and fails it.
            let late = harness.worker(venue: venue, deadlineSeconds: 60, now: { Date().addingTimeInterval(61) })
            let done = try await harness.runUntilFinished(late, [created])
            #expect(done[0].status.publicState == "FAILED")
            #expect(done[0].failureReason == .venueTimeout)
            #expect(try await venue.status(clientOrderId: clientOrderId) == .cancelled)
            #expect(try await venue.fillCount(clientOrderId: clientOrderId) == 0)
            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("1000"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.availableBalance(btc) == 0)
            #expect(try await harness.queueLength() == 0)
        }
    }

    @Test func pastTheDeadlineAnOrderTheVenueFilledCompletes() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let clientOrderId = "swapline-\(created.id)"
            let venue = harness.venue(latencyMilliseconds: 600_000)
            #expect(try await harness.worker(venue: venue).runOnce() == 1)
            #expect(try await venue.status(clientOrderId: clientOrderId) == .pending)

            // The venue's latency has passed: reconciling at the deadline finds the fill.
            try await database.owner.query(
                "UPDATE venue_orders SET fill_due_at = now() - interval '1 second' WHERE client_order_id = \(clientOrderId)",
                logger: database.logger)
            let late = harness.worker(venue: venue, deadlineSeconds: 60, now: { Date().addingTimeInterval(61) })
            let done = try await harness.runUntilFinished(late, [created])
            #expect(done[0].status == .completed)
            #expect(try await venue.fillCount(clientOrderId: clientOrderId) == 1)
            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("900"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.availableBalance(btc) == created.request.price.destinationAmount)
        }
    }

    @Test func withoutAFreshRateTheExchangeWaitsThenTimesOutAtTheDeadline() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let venue = harness.venue()
            var stale = Market.defaults
            stale.pairs[usdtBTC]?.rateAsOf = Date().addingTimeInterval(-3_600)

            // No usable rate: nothing is quoted or sent, and the exchange is tried again a second
            // later (measured from before the run, not from now: a loaded machine may take longer
            // than that second to get to the check).
            let asked = Date()
            #expect(try await harness.worker(venue: venue, market: stale).runOnce() == 1)
            #expect(try await harness.get(created).status == .requested)
            #expect(try await harness.count("SELECT count(*) FROM execution_queue WHERE due_at > \(asked.addingTimeInterval(0.9)) AND lease_until IS NULL") == 1)

            try await database.owner.query("UPDATE execution_queue SET due_at = now()", logger: database.logger)
            let late = harness.worker(venue: venue, market: stale, deadlineSeconds: 60, now: { Date().addingTimeInterval(61) })
            let done = try await harness.runUntilFinished(late, [created])
            try await harness.expectFailedBeforeTheVenue(done[0], .venueTimeout, account: account, venue: venue)
        }
    }

    @Test func aRateWorsePastTheToleranceFailsRateMoved() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let venue = harness.venue()

            let worker = harness.worker(venue: venue, market: market(usdtBTC, rateTimes: "0.9"))
            let done = try await harness.runUntilFinished(worker, [created])
            try await harness.expectFailedBeforeTheVenue(done[0], .rateMoved, account: account, venue: venue)
        }
    }

    @Test func aRateMoveWithinTheToleranceStillCompletesAtTheRequestedAmounts() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            // 0.3 % worse is inside the market's 0.5 % tolerance; a better rate is always fine. Each
            // exchange is created only when the worker meant for it is the one that will run.
            let worse = try await harness.exchange(account)
            try await harness.runUntilFinished(harness.worker(market: market(usdtBTC, rateTimes: "0.997")), [worse])
            let better = try await harness.exchange(account)
            try await harness.runUntilFinished(harness.worker(market: market(usdtBTC, rateTimes: "1.05")), [better])
            for exchange in [worse, better] {
                let state = try await harness.get(exchange)
                #expect(state.status == .completed)
                #expect(state.completed?.destinationAmount == exchange.request.price.destinationAmount)
            }
            let after = try await harness.accounts.state(of: account)
            #expect(after.availableBalance(usdt) == dec("800"))
            #expect(after.heldBalance(usdt) == 0)
            #expect(after.availableBalance(btc) == worse.request.price.destinationAmount + better.request.price.destinationAmount)
        }
    }

    @Test func aPairSwitchedOffBeforeExecutionFailsPairDisabled() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let created = try await harness.exchange(account)
            let venue = harness.venue()

            let worker = harness.worker(venue: venue, market: Market.defaults.withPair(usdtBTC, enabled: false))
            let done = try await harness.runUntilFinished(worker, [created])
            try await harness.expectFailedBeforeTheVenue(done[0], .pairDisabled, account: account, venue: venue)
        }
    }

    @Test func twoWorkersOnOneQueueClaimEachExchangeOnceAndCompleteItOnce() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            var created: [ExchangeState] = []
            var accounts: [AccountID] = []
            // Two exchanges per account, so settlements on one account race each other too.
            for index in 0..<4 {
                let account = try await harness.openAccount("merchant \(index)", deposits: [(usdt, "1000")])
                accounts.append(account)
                created.append(try await harness.exchange(account))
                created.append(try await harness.exchange(account))
            }
            let first = harness.worker(venue: harness.venue())
            let second = harness.worker(venue: harness.venue())

            // One concurrent pass: the leases split the queue, so every exchange is claimed exactly once.
            async let claimedByFirst = first.runOnce()
            async let claimedBySecond = second.runOnce()
            let claimed = try await claimedByFirst + claimedBySecond
            #expect(claimed == created.count)

            try await Self.runConcurrently([first, second], until: created, harness: harness)
            try await Self.expectExactlyOnce(created, accounts: accounts, harness: harness)
        }
    }

    @Test func workersThatStealEachOthersLeasesStillExecuteOnce() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            var created: [ExchangeState] = []
            var accounts: [AccountID] = []
            for index in 0..<3 {
                let account = try await harness.openAccount("merchant \(index)", deposits: [(usdt, "1000")])
                accounts.append(account)
                for _ in 0..<2 { created.append(try await harness.exchange(account)) }
            }
            // A zero lease lets both workers claim the same exchange at once: only the event
            // store's expected versions and the venue's client order id keep execution single.
            let workers = (0..<2).map { _ in harness.worker(venue: harness.venue(), leaseSeconds: 0, quiet: true) }
            try await Self.runConcurrently(workers, until: created, harness: harness)
            try await Self.expectExactlyOnce(created, accounts: accounts, harness: harness)
        }
    }

    /// Runs every worker in a loop, all at once, until every exchange is terminal.
    static func runConcurrently(_ workers: [ExecutionWorker], until created: [ExchangeState], harness: Harness) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    try await harness.runUntilFinished(worker, created)
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every exchange completed once: one fill, one ExchangeCompleted, one settlement, exact balances.
    static func expectExactlyOnce(_ created: [ExchangeState], accounts: [AccountID], harness: Harness) async throws {
        let venue = harness.venue()
        for exchange in created {
            let state = try await harness.get(exchange)
            #expect(state.status == .completed, "exchange \(exchange.id)")
            #expect(try await venue.fillCount(clientOrderId: "swapline-\(exchange.id)") == 1, "exchange \(exchange.id)")
            #expect(
                try await harness.eventTypes(exchange.id) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted"],
                "exchange \(exchange.id)")
            #expect(try await harness.settlements(exchange.request.account, exchange: exchange.id) == 1, "exchange \(exchange.id)")
        }
        #expect(try await harness.count("SELECT count(*) FROM venue_orders") == created.count)
        for account in accounts {
            let mine = created.filter { $0.request.account == account }
            let state = try await harness.accounts.state(of: account)
            let sold = mine.reduce(Decimal(0)) { $0 + $1.request.price.sourceAmount }
            let bought = mine.reduce(Decimal(0)) { $0 + $1.request.price.destinationAmount }
            #expect(mine.count == 2)
            #expect(state.availableBalance(usdt) == dec("1000") - sold)
            #expect(state.heldBalance(usdt) == 0)
            #expect(state.availableBalance(btc) == bought)
        }
        #expect(try await harness.queueLength() == 0)
    }

    @Test func moneyIsConservedAcrossAMixedRun() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            // What the test moves in and out, kept independently of the system under test.
            var external: [Currency: Decimal] = [:]
            let alice = try await harness.openAccount("alice", deposits: [])
            let bob = try await harness.openAccount("bob", deposits: [])
            let carol = try await harness.openAccount("carol", deposits: [])
            let everyone = [alice, bob, carol]
            for (account, currency, amount) in [(alice, usdt, "2000"), (bob, btc, "0.5"), (bob, usdt, "50"), (carol, usdt, "1000")] {
                _ = try await harness.accounts.deposit(account: account, currency: currency, amountText: amount)
                external[currency, default: 0] += dec(amount)
            }
            _ = try await harness.accounts.withdraw(account: bob, currency: usdt, amountText: "10")
            external[usdt, default: 0] -= dec("10")

            // Completed: a venue that fills everything.
            var completing: [ExchangeState] = []
            for _ in 0..<3 { completing.append(try await harness.exchange(alice, usdtBTC, "100")) }
            for _ in 0..<2 { completing.append(try await harness.exchange(bob, CurrencyPair(btc, usdt), "0.01")) }
            completing.append(try await harness.exchange(carol, CurrencyPair(usdt, eth), "250"))
            completing.append(try await harness.exchange(carol, CurrencyPair(usdt, usdc), "120.55"))
            try await harness.runUntilFinished(harness.worker(venue: harness.venue()), completing)

            // Failed: a venue that rejects everything, and a pair switched off.
            var failing: [ExchangeState] = []
            for _ in 0..<2 { failing.append(try await harness.exchange(alice, usdtBTC, "150")) }
            failing.append(try await harness.exchange(carol, CurrencyPair(usdt, usdc), "300"))
            try await harness.runUntilFinished(harness.worker(venue: harness.venue(failureRate: "1")), failing)
            let switchedOff = [try await harness.exchange(bob, CurrencyPair(btc, eth), "0.02")]
            try await harness.runUntilFinished(
                harness.worker(market: Market.defaults.withPair(CurrencyPair(btc, eth), enabled: false)), switchedOff)
            failing += switchedOff

            for (account, currency, amount) in [(alice, btc, "0.001"), (bob, usdt, "100")] {
                _ = try await harness.accounts.withdraw(account: account, currency: currency, amountText: amount)
                external[currency, default: 0] -= dec(amount)
            }

            for exchange in completing { #expect(try await harness.get(exchange).status == .completed, "exchange \(exchange.id)") }
            for exchange in failing { #expect(try await harness.get(exchange).status == .failed, "exchange \(exchange.id)") }

            let (house, exchangeStreams, completedEvents) = try await Self.house(harness)
            #expect(exchangeStreams == completing.count + failing.count)
            #expect(completedEvents == completing.count)
            let (balances, recorded) = try await Self.accountTotals(everyone, harness)
            #expect(recorded == external)

            let currencies = Set(external.keys).union(balances.keys).union(house.keys)
            #expect(currencies == [usdt, usdc, btc, eth])
            for currency in currencies.sorted() {
                let accounts = balances[currency, default: 0]
                let houseBalance = house[currency, default: 0]
                #expect(
                    accounts + houseBalance == external[currency, default: 0],
                    "\(currency): accounts \(accounts.plainText) + house \(houseBalance.plainText) ≠ deposits − withdrawals \(external[currency, default: 0].plainText)"
                )
            }
            // Valued at mid rates the house made money on the run (fees and spreads), and it only ever paid ETH out.
            let mid: [Currency: Decimal] = [usdt: 1, usdc: 1, btc: 96_000, eth: 3_400]
            var houseValue = Decimal(0)
            for (currency, amount) in house { houseValue += amount * mid[currency, default: 0] }
            #expect(houseValue > 0)
            #expect(house[eth, default: 0] < 0)
            #expect(try await harness.queueLength() == 0)
        }
    }

    /// The house's position from every exchange stream in the database: it receives the source
    /// amount and pays the destination amount of each ExchangeCompleted.
    static func house(_ harness: Harness) async throws -> (house: [Currency: Decimal], streams: Int, completed: Int) {
        var house: [Currency: Decimal] = [:]
        var completedEvents = 0
        let rows = try await harness.database.owner.query(
            "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'exchange-%'", logger: harness.database.logger)
        var streamIds: [String] = []
        for try await streamId in rows.decode(String.self) { streamIds.append(streamId) }
        for streamId in streamIds {
            let events = try await harness.store.readStream(streamId).map(Streams.exchangeEvent)
            guard case .requested(let request) = events.first else {
                Issue.record("stream \(streamId) does not start with ExchangeRequested")
                continue
            }
            for case .completed(let completed) in events {
                completedEvents += 1
                #expect(completed.sourceAmount == request.price.sourceAmount)
                #expect(completed.destinationAmount == request.price.destinationAmount)
                house[request.price.pair.source, default: 0] += completed.sourceAmount
                house[request.price.pair.destination, default: 0] -= completed.destinationAmount
            }
        }
        return (house, streamIds.count, completedEvents)
    }

    /// Available plus held over the accounts, and their deposits minus withdrawals as their streams recorded them.
    static func accountTotals(_ accounts: [AccountID], _ harness: Harness) async throws
        -> (balances: [Currency: Decimal], recorded: [Currency: Decimal])
    {
        var balances: [Currency: Decimal] = [:]
        var recorded: [Currency: Decimal] = [:]
        for account in accounts {
            let state = try await harness.accounts.state(of: account)
            #expect(state.held.isEmpty, "account \(account) still holds funds")
            for currency in state.currencies {
                balances[currency, default: 0] += state.availableBalance(currency) + state.heldBalance(currency)
            }
            for event in try await harness.store.readStream(Streams.account(account)).map(Streams.accountEvent) {
                switch event {
                case .deposited(let deposit): recorded[deposit.currency, default: 0] += deposit.amount
                case .withdrawn(let withdrawal): recorded[withdrawal.currency, default: 0] -= withdrawal.amount
                default: break
                }
            }
        }
        return (balances, recorded)
    }
}

// MARK: - Simulated venue

@Suite("Simulated venue against PostgreSQL")
struct SimulatedVenueTests {
    static func order(_ clientOrderId: String, source: String = "100.00", destination: String = "0.00103854") -> VenueOrder {
        VenueOrder(clientOrderId: clientOrderId, pair: usdtBTC, sourceAmount: dec(source), destinationAmount: dec(destination))
    }

    @Test func submittingTheSameClientOrderIdTwiceKeepsOneOrder() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let venue = harness.venue()
            #expect(try await venue.status(clientOrderId: "order-1") == .unknown)
            #expect(try await venue.submit(Self.order("order-1")) == .filled)
            // A resubmission, even with other amounts, is the same order.
            #expect(try await venue.submit(Self.order("order-1", source: "200.00", destination: "0.002")) == .filled)
            #expect(try await harness.venue(failureRate: "1").submit(Self.order("order-1")) == .filled)
            #expect(try await harness.count("SELECT count(*) FROM venue_orders") == 1)
            #expect(try await harness.count("SELECT count(*) FROM venue_orders WHERE source_amount = 100.00") == 1)
            #expect(try await venue.fillCount(clientOrderId: "order-1") == 1)
        }
    }

    @Test func aPendingOrderFillsOnceAfterItsLatencyOrCancelsBeforeIt() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let venue = harness.venue(latencyMilliseconds: 600_000)
            #expect(try await venue.submit(Self.order("slow")) == .pending)
            #expect(try await venue.submit(Self.order("cancelled")) == .pending)
            #expect(try await venue.status(clientOrderId: "slow") == .pending)
            #expect(try await venue.fillCount(clientOrderId: "slow") == 0)

            #expect(try await venue.cancel(clientOrderId: "cancelled") == .cancelled)
            try await database.owner.query("UPDATE venue_orders SET fill_due_at = now() - interval '1 second'", logger: database.logger)
            #expect(try await venue.status(clientOrderId: "slow") == .filled)
            #expect(try await venue.status(clientOrderId: "slow") == .filled)
            #expect(try await venue.fillCount(clientOrderId: "slow") == 1)
            // A filled order cannot be cancelled; a cancelled one never fills.
            #expect(try await venue.cancel(clientOrderId: "slow") == .filled)
            #expect(try await venue.status(clientOrderId: "cancelled") == .cancelled)
            #expect(try await venue.fillCount(clientOrderId: "cancelled") == 0)
        }
    }

    @Test func drawIsDeterministicForASeed() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let ids = (1...2000).map { "swapline-\($0)" }
            // No closure literal inside #expect here or anywhere in this file: with Swift 6.3.1 a closure
            // in a #expect argument inside another closure can share its symbol with a later closure
            // of the same function, which then silently runs the wrong code.
            let draws = ids.map { harness.venue(seed: 42).draw($0) }
            let sameSeed = ids.map { harness.venue(seed: 42).draw($0) }
            let otherSeed = ids.map { harness.venue(seed: 43).draw($0) }
            let inRange = draws.allSatisfy { $0 >= 0 && $0 < 1 }
            let below = draws.filter { $0 < dec("0.3") }.count
            #expect(sameSeed == draws)
            #expect(otherSeed != draws)
            #expect(inRange)
            // Spread evenly enough that a failure rate means what it says.
            #expect((500...700).contains(below))
        }
    }

    @Test func rejectionsFollowTheSeededDraw() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let venue = harness.venue(failureRate: "0.5", seed: 7)
            var rejected = 0
            for index in 1...20 {
                let id = "swapline-\(index)"
                let status = try await venue.submit(Self.order(id))
                if venue.draw(id) < dec("0.5") {
                    #expect(status == .rejected("rejected by the simulated venue"), "\(id)")
                    rejected += 1
                } else {
                    #expect(status == .filled, "\(id)")
                }
            }
            #expect(rejected > 0 && rejected < 20)
            #expect(try await harness.count("SELECT count(*) FROM venue_orders WHERE status = 'REJECTED'") == rejected)
            #expect(try await harness.count("SELECT count(*) FROM venue_orders WHERE status = 'FILLED'") == 20 - rejected)
        }
    }
}
