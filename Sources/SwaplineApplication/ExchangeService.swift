import Crypto
import Foundation
import Logging
import Metrics
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections
import Synchronization

/// What a client asks `exchange/create` for, already checked for shape by the API.
public struct CreateExchangeRequest: Sendable, Equatable {
    public var pair: CurrencyPair
    /// The amount as sent (nil only with a quote), parsed later at the right scale.
    public var amountText: String?
    public var direction: Direction
    public var quoteId: UUID?
    public var idempotencyKey: String?

    public init(pair: CurrencyPair, amountText: String?, direction: Direction = .sell, quoteId: UUID? = nil, idempotencyKey: String? = nil) {
        self.pair = pair
        self.amountText = amountText
        self.direction = direction
        self.quoteId = quoteId
        self.idempotencyKey = idempotencyKey
    }
}

/// A locked price from pre-calculate.
public struct StoredQuote: Sendable, Equatable {
    public var id: UUID
    public var price: Price
    public var expiresAt: Date
}

/// The exchange use cases: pairs, limits, pre-calculate, create, get.
public struct ExchangeService: Sendable {
    public let client: PostgresClient
    public let store: EventStore
    /// Shared by the services of one process so each stream is rebuilt from where it was last seen.
    public let aggregates: AggregateLoader
    /// Concurrent creates' exchange ids, drawn from the sequence in one statement with
    /// `ExchangeIdReserve.size` more for the creates right after them.
    let exchangeIds: RoundTripBatcher<Void, ExchangeID>
    let reservedExchangeIds = ExchangeIdReserve()
    /// The market as configured; `market` is it with the pair kill switch applied.
    public let configuredMarket: Market
    /// The pairs switched off at run time (nil: only the configured market counts).
    public let pairSwitches: PairSwitches?
    public var market: Market { pairSwitches?.applied(to: configuredMarket) ?? configuredMarket }
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// `swapline_exchanges_total{state="created"}`: exchanges whose request committed.
    let createdCounter: Counter
    /// How many times a create that lost an expected-version race is decided again.
    static let maximumAttempts = 100

    /// Concurrent creates without a quote or idempotency key commit in one transaction (the
    /// store's group commit, see `EventStore.append`); each still succeeds or fails alone.
    public init(
        client: PostgresClient, market: Market, logger: Logger, aggregates: AggregateLoader? = nil,
        now: @escaping @Sendable () -> Date = Date.init, metrics: any MetricsFactory = MetricsSystem.factory, pairSwitches: PairSwitches? = nil
    ) {
        self.pairSwitches = pairSwitches
        self.createdCounter = Counter(label: "swapline_exchanges_total", dimensions: [("state", "created")], factory: metrics)
        self.client = client
        self.store = EventStore(client: client, logger: logger, projecting: AppendQueueingExchanges.self, groupCommit: true)
        self.aggregates = aggregates ?? AggregateLoader(store: self.store)
        self.exchangeIds = RoundTripBatcher { [client, logger, reservedExchangeIds] requests in
            var ids: [ExchangeID] = []
            // Drawn ahead only when creates come together; a lone create takes just its own.
            let count = requests.count + (requests.count > 1 ? ExchangeIdReserve.size : 0)
            let rows = try await client.execute(Prepared(NextExchangeIds.self, try PostgresBindings(count)), logger: logger)
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            reservedExchangeIds.keep(ids.dropFirst(requests.count))
            return Array(ids.prefix(requests.count))
        }
        self.configuredMarket = market
        self.logger = logger
        self.now = now
    }

    // MARK: limit and pre-calculate

    public func limits(account: AccountID, pair: CurrencyPair) async throws -> (minAmount: Decimal, maxAmount: Decimal) {
        let state = try await accountState(account)
        do {
            return try state.limits(for: pair, market: market, now: now())
        } catch {
            throw SwaplineError(error)
        }
    }

    /// Prices the request and stores the price as a quote that locks it for the market's quote TTL.
    public func preCalculate(account: AccountID, pair: CurrencyPair, amountText: String, direction: Direction) async throws -> StoredQuote {
        let at = now()
        let price: Price
        do {
            price = try market.price(pair, amountText: amountText, direction: direction, now: at)
        } catch {
            throw SwaplineError(error)
        }
        let requested = direction == .sell ? price.sourceAmount : price.destinationAmount
        let quote = StoredQuote(id: UUID(), price: price, expiresAt: at.addingTimeInterval(TimeInterval(market.quoteTTLSeconds)))
        try await client.query(
            """
            INSERT INTO quotes (quote_id, account_id, source_currency, destination_currency, direction, requested_amount,
                                source_amount, destination_amount, rate, fee, created_at, expires_at)
            VALUES (\(quote.id), \(account.rawValue), \(pair.source.code), \(pair.destination.code), \(direction.rawValue),
                    \(requested.plainText)::numeric, \(price.sourceAmount.plainText)::numeric, \(price.destinationAmount.plainText)::numeric,
                    \(price.rate.plainText)::numeric, \(price.fee.plainText)::numeric, \(at), \(quote.expiresAt))
            """,
            logger: logger)
        return quote
    }

    // MARK: create

    /// Validates limits and balance, holds the source funds and records the exchange, all in one
    /// transaction with an expected version per stream; a lost race is decided again here, so the
    /// client only ever sees the exchange or a business error.
    public func create(account: AccountID, request: CreateExchangeRequest, metadata: EventMetadata) async throws -> ExchangeState {
        let requestHash = Self.hash(request)
        if let key = request.idempotencyKey, let existing = try await idempotentExchange(account: account, key: key, requestHash: requestHash) {
            return existing
        }
        let (price, quoteId) = try await priceFor(account: account, request: request)
        guard let sourceInfo = market.currencies[price.pair.source] else {
            throw SwaplineError(.pairUnavailable, "unknown currency \(price.pair.source)")
        }
        let exchangeId = try await nextExchangeId()
        for attempt in 0..<Self.maximumAttempts {
            let at = now()
            // The first try decides on the cached account unchecked (no read); the append's
            // expected version checks it, and a refusal is only believed from a fresh load.
            let guessed = attempt == 0
            let loaded = guessed ? try await aggregates.guessAccount(account) : try await aggregates.loadAccount(account)
            guard loaded.state != nil else {
                if guessed { continue }
                throw SwaplineError.notFound("account \(account) not found")
            }
            let accountEvents: [AccountEvent]
            let exchangeEvents: [ExchangeEvent]
            do {
                accountEvents = try Account.decide(
                    .hold(exchangeId: exchangeId, currency: price.pair.source, amount: price.sourceAmount, dailyLimit: sourceInfo.dailyLimit, at: at),
                    state: loaded.state)
                exchangeEvents = try Exchange.decide(
                    .request(ExchangeRequested(id: exchangeId, account: account, price: price, quoteId: quoteId, requestedAt: at)),
                    state: nil)
            } catch {
                if guessed { continue }
                throw SwaplineError(error)
            }
            let newExchangeEvents = try exchangeEvents.map { try Streams.newEvent($0, metadata: metadata) }
            let newAccountEvents = try accountEvents.map { try Streams.newEvent($0, metadata: metadata) }
            let appends = [
                StreamAppend(streamId: Streams.exchange(exchangeId), expectedVersion: .noStream, events: newExchangeEvents),
                StreamAppend(streamId: Streams.account(account), expectedVersion: loaded.expectedVersion, events: newAccountEvents),
            ]
            do {
                if quoteId == nil && request.idempotencyKey == nil {
                    // Nothing to write beside the events and what the inline models derive
                    // from them (the queue entry too), so concurrent creates commit together
                    // (the store's group commit).
                    try await store.append(appends)
                } else {
                    try await appendClaiming(quoteId: quoteId, idempotencyKey: request.idempotencyKey, account: account,
                        requestHash: requestHash, exchangeId: exchangeId, appends: appends)
                    store.announceAppended()
                }
            } catch is EventStoreError {
                continue
            } catch is IdempotencyRace {
                // Another request with the same key committed first: answer as its retry.
                if let key = request.idempotencyKey,
                    let existing = try await idempotentExchange(account: account, key: key, requestHash: requestHash)
                {
                    return existing
                }
                continue
            }
            store.announcer.announce(Self.executionChannel)
            // Committed: a failure to remember only costs the next create a read.
            try? await aggregates.appended(newAccountEvents, toAccount: account, after: loaded)
            try? await aggregates.appended(newExchangeEvents, toExchange: exchangeId, after: Loaded(state: nil, version: 0))
            createdCounter.increment()
            return exchangeEvents.reduce(nil) { Exchange.evolve($0, $1) }!
        }
        throw SwaplineError(.serviceUnavailable, "account \(account) is too busy; try again")
    }

    struct IdempotencyRace: Error {}

    /// Appends in one transaction with claiming the quote and the idempotency key, so all of it
    /// commits or none. Throws the closure's own error (a `SwaplineError`, `IdempotencyRace` or
    /// `EventStoreError`) as itself.
    private func appendClaiming(
        quoteId: UUID?, idempotencyKey: String?, account: AccountID, requestHash: [UInt8], exchangeId: ExchangeID, appends: [StreamAppend]
    ) async throws {
        let logger = self.logger
        do {
            try await client.withTransaction(logger: logger) { connection in
                if let quoteId {
                    let used = try await connection.query(
                        """
                        UPDATE quotes SET used_at = now(), exchange_id = \(exchangeId)
                        WHERE quote_id = \(quoteId) AND used_at IS NULL AND expires_at > now() RETURNING 1
                        """, logger: logger)
                    var claimed = false
                    for try await _ in used.decode(Int.self) { claimed = true }
                    guard claimed else { throw SwaplineError(.quoteUnusable, "quote \(quoteId) has expired or was already used") }
                }
                if let key = idempotencyKey {
                    let inserted = try await connection.query(
                        """
                        INSERT INTO idempotency_keys (account_id, idempotency_key, request_hash, exchange_id)
                        VALUES (\(account.rawValue), \(key), \(Data(requestHash)), \(exchangeId))
                        ON CONFLICT (account_id, idempotency_key) DO UPDATE
                            SET request_hash = EXCLUDED.request_hash, exchange_id = EXCLUDED.exchange_id, created_at = now()
                            WHERE idempotency_keys.created_at < now() - interval '24 hours'
                        RETURNING 1
                        """, logger: logger)
                    var claimed = false
                    for try await _ in inserted.decode(Int.self) { claimed = true }
                    guard claimed else { throw IdempotencyRace() }
                }
                _ = try await store.append(appends, on: connection)
            }
        } catch let error as PostgresTransactionError {
            switch error.closureError {
            case let failure as SwaplineError: throw failure
            case let race as IdempotencyRace: throw race
            case let conflict as EventStoreError: throw conflict
            default: throw error
            }
        }
    }

    private func priceFor(account: AccountID, request: CreateExchangeRequest) async throws -> (Price, UUID?) {
        guard let quoteId = request.quoteId else {
            guard let amountText = request.amountText else { throw SwaplineError.badRequest("payload.amount is required without a quoteId") }
            do {
                return (try market.price(request.pair, amountText: amountText, direction: request.direction, now: now()), nil)
            } catch {
                throw SwaplineError(error)
            }
        }
        guard let quote = try await loadQuote(quoteId, account: account) else {
            throw SwaplineError(.quoteUnusable, "quote \(quoteId) is unknown")
        }
        let (stored, requested, used) = quote
        guard used == false else { throw SwaplineError(.quoteUnusable, "quote \(quoteId) was already used") }
        guard stored.expiresAt > now() else { throw SwaplineError(.quoteUnusable, "quote \(quoteId) has expired") }
        guard stored.price.pair == request.pair else {
            throw SwaplineError(.quoteUnusable, "quote \(quoteId) is for \(stored.price.pair), not \(request.pair)")
        }
        guard stored.price.direction == request.direction else {
            throw SwaplineError(.quoteUnusable, "quote \(quoteId) is for direction \(stored.price.direction.rawValue)")
        }
        if let amountText = request.amountText {
            guard let amount = try? Amount.parseDecimal(amountText), amount == requested else {
                throw SwaplineError(.quoteUnusable, "amount \(amountText) does not match quote \(quoteId) (\(requested.plainText))")
            }
        }
        guard market.pairs[request.pair]?.isEnabled == true else {
            throw SwaplineError(.pairUnavailable, "currency pair \(request.pair) is not available")
        }
        return (stored.price, quoteId)
    }

    /// The quote if it belongs to the account (another account's quote is as unknown as none).
    func loadQuote(_ id: UUID, account: AccountID) async throws -> (StoredQuote, requested: Decimal, used: Bool)? {
        let rows = try await client.query(
            """
            SELECT source_currency, destination_currency, direction, requested_amount::text, source_amount::text,
                   destination_amount::text, rate::text, fee::text, expires_at, used_at IS NOT NULL
            FROM quotes WHERE quote_id = \(id) AND account_id = \(account.rawValue)
            """, logger: logger)
        for try await (source, destination, direction, requested, sourceAmount, destinationAmount, rate, fee, expiresAt, used) in rows.decode(
            (String, String, String, String, String, String, String, String, Date, Bool).self)
        {
            let price = Price(
                pair: CurrencyPair(Currency(source), Currency(destination)),
                direction: Direction(rawValue: direction) ?? .sell,
                sourceAmount: try Amount.parseDecimal(sourceAmount),
                destinationAmount: try Amount.parseDecimal(destinationAmount),
                rate: try Amount.parseDecimal(rate),
                fee: try Amount.parseDecimal(fee))
            return (StoredQuote(id: id, price: price, expiresAt: expiresAt), try Amount.parseDecimal(requested), used)
        }
        return nil
    }

    /// The exchange a key already created, if the key is live; 016 if it was used for another payload.
    private func idempotentExchange(account: AccountID, key: String, requestHash: [UInt8]) async throws -> ExchangeState? {
        let rows = try await client.query(
            """
            SELECT request_hash, exchange_id FROM idempotency_keys
            WHERE account_id = \(account.rawValue) AND idempotency_key = \(key) AND created_at > now() - interval '24 hours'
            """, logger: logger)
        for try await (hash, exchangeId) in rows.decode((Data, Int64).self) {
            guard [UInt8](hash) == requestHash else {
                throw SwaplineError(.idempotencyKeyReused, "idempotencyKey \(key) was already used with another payload")
            }
            return try await get(account: account, id: exchangeId)
        }
        return nil
    }

    static func hash(_ request: CreateExchangeRequest) -> [UInt8] {
        let amount = request.amountText.flatMap { try? Amount.parseDecimal($0) }?.plainText ?? ""
        let canonical = [
            request.pair.source.code, request.pair.destination.code, amount, request.direction.rawValue,
            request.quoteId?.uuidString.lowercased() ?? "",
        ].joined(separator: "\n")
        return [UInt8](SHA256.hash(data: Data(canonical.utf8)))
    }

    private func nextExchangeId() async throws -> ExchangeID {
        if let reserved = reservedExchangeIds.take() { return reserved }
        return try await exchangeIds.submit(())
    }

    enum NextExchangeIds: PreparedSQL {
        static let sql = "SELECT nextval('exchange_ids') FROM generate_series(1, $1)"
    }

    /// Queued in the create's transaction; the execution workers are woken after its commit
    /// (`CommitAnnouncer`), on the channel they listen to.

    /// The channel `ExecutionWorker` listens to.
    public static let executionChannel = "swapline_execution"

    // MARK: get

    /// The exchange, read from its own stream so it is always current for the caller. Another
    /// account's exchange is answered like a missing one.
    public func get(account: AccountID, id: ExchangeID) async throws -> ExchangeState {
        guard let state = try await aggregates.loadExchange(id).state, state.request.account == account else {
            throw SwaplineError.notFound("exchange \(id) not found")
        }
        return state
    }

    func accountState(_ account: AccountID) async throws -> AccountState {
        guard let state = try await aggregates.loadAccount(account).state else {
            throw SwaplineError.notFound("account \(account) not found")
        }
        return state
    }
}

/// Queues every requested exchange for the execution worker in the statement that appends its
/// request, as an inline step of the create's append (not a read model: nothing rebuilds it). So
/// a create is its events alone, and concurrent creates can commit together.
struct QueueRequestedExchanges: InlineProjection {
    func writes(reading source: String) -> String {
        """
        execution_queued AS (
            INSERT INTO execution_queue (exchange_id, due_at)
            SELECT substr(events.stream_id, 10)::bigint, now() FROM \(source) AS events
            WHERE events.event_type = 'ExchangeRequested' AND events.stream_id LIKE 'exchange-%'
        )
        """
    }
}

/// The create's append statement: the events, the inline read models and the execution queue.
enum AppendQueueingExchanges: ProjectingAppend {
    static let sql = EventStore.appendSQL(projecting: ReadModels.inline + [QueueRequestedExchanges()])
}

/// Exchange ids this process drew from the sequence ahead of need, so that under load most
/// creates skip that round trip: a create waited for it (batched with the other creates')
/// before its append's, two round trips in a row.
///
/// `exchange/list` is newest first by id, so ids must stay close to creation order across
/// processes too. Hence ids are drawn ahead only when creates come together (a batch of two or
/// more), and a drawn id not used within `maximumAge` is dropped: an exchange's id is never older
/// than that. Dropped ids are gaps, as `nextval` already allowed (it is never rolled back).
final class ExchangeIdReserve: Sendable {
    /// Ids drawn ahead with a batch of concurrent creates.
    static let size = 32
    static let maximumAge: Duration = .milliseconds(100)

    private struct Spare {
        /// Smallest last, so ids go out in the order they were drawn.
        var ids: [ExchangeID] = []
        var drawnAt: ContinuousClock.Instant?
    }
    private let spare = Mutex(Spare())

    func take(now: ContinuousClock.Instant = .now) -> ExchangeID? {
        spare.withLock { spare in
            if let drawnAt = spare.drawnAt, drawnAt.duration(to: now) > Self.maximumAge { spare = Spare() }
            return spare.ids.popLast()
        }
    }

    /// Replaces what is kept: newer ids than any kept, and the clock restarts for all of them.
    func keep(_ ids: some Collection<ExchangeID>, drawnAt: ContinuousClock.Instant = .now) {
        guard !ids.isEmpty else { return }
        spare.withLock { spare in
            spare = Spare(ids: ids.sorted(by: >), drawnAt: drawnAt)
        }
    }
}
