import Foundation
import PostgresNIO
@testable import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
@testable import SwaplineExecution
import SwaplineTestSupport
import Testing

/// Creates and the execution worker decide their first try on the aggregate as their process
/// last saw it, without reading the stream (`AggregateLoader.guess…`). Another process's
/// appends make that guess stale; these check a stale guess never decides anything.
@Suite("Decisions on a cached aggregate against PostgreSQL")
struct GuessedStateTests {
    /// A second `ExchangeService` with a loader of its own: another serving process.
    func otherProcess(_ harness: Harness) -> ExchangeService {
        ExchangeService(client: harness.database.app, market: harness.market, logger: harness.database.logger)
    }

    func available(_ account: AccountID, _ harness: Harness) async throws -> (available: Decimal, held: Decimal) {
        let state = try await AggregateLoader(store: harness.store).loadAccount(account).state
        return (state?.availableBalance(usdt) ?? -1, state?.heldBalance(usdt) ?? -1)
    }

    @Test func aCreateOnAStaleCachedBalanceIsRefusedByTheStream() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "100")])
            _ = try await harness.exchange(account, usdtBTC, "60")  // this process caches 40 available
            let other = otherProcess(harness)
            _ = try await other.create(
                account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: "30"), metadata: EventMetadata(actor: "test"))
            // The cache still says 40 available; the stream says 10.
            await #expect(throws: SwaplineError.self) { _ = try await harness.exchange(account, usdtBTC, "30") }
            let balance = try await available(account, harness)
            #expect(balance.available == dec("10"))
            #expect(balance.held == dec("90"))
        }
    }

    @Test func aRefusalOnAStaleCachedBalanceIsCheckedAgainstTheStream() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "100")])
            _ = try await harness.exchange(account, usdtBTC, "100")  // this process caches 0 available
            _ = try await harness.accounts.deposit(account: account, currency: usdt, amountText: "50")
            // The cache says nothing is available; the stream has the deposit.
            let created = try await harness.exchange(account, usdtBTC, "50")
            #expect(created.status == .requested)
            let balance = try await available(account, harness)
            #expect(balance.available == dec("0"))
            #expect(balance.held == dec("150"))
        }
    }

    /// A lone create draws just its own id (no gaps when creates come one at a time, so ids
    /// follow creation order across processes); creates that come together draw ahead.
    @Test func exchangeIdsAreDrawnAheadOnlyForCreatesThatComeTogether() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            func drawn() async throws -> Int64 {
                var value: Int64 = -1
                let rows = try await database.app.query(
                    "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM exchange_ids", logger: database.logger)
                for try await last in rows.decode(Int64.self) { value = last }
                return value
            }
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let before = try await drawn()
            var ids: [ExchangeID] = []
            for _ in 0..<3 { ids.append(try await harness.exchange(account, usdtBTC, "10").id) }
            let other = try await otherProcess(harness).create(
                account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: "10"), metadata: EventMetadata(actor: "test"))
            ids.append(other.id)
            #expect(ids == Array(before + 1...before + 4))
            #expect(try await drawn() == before + 4)

            let accounts = try await withThrowingTaskGroup(of: AccountID.self) { group in
                for _ in 0..<16 { group.addTask { try await harness.openAccount(deposits: [(usdt, "100")]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let together = try await withThrowingTaskGroup(of: ExchangeID.self) { group in
                for account in accounts { group.addTask { try await harness.exchange(account, usdtBTC, "10").id } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(together).count == 16)
            #expect(together.allSatisfy { $0 > before + 4 })
        }
    }

    @Test func reservedIdsGoOutInOrderAndExpire() {
        let reserve = ExchangeIdReserve()
        let drawn = ContinuousClock.now
        reserve.keep([12, 10, 11], drawnAt: drawn)
        #expect(reserve.take(now: drawn) == 10)
        #expect(reserve.take(now: drawn + .milliseconds(50)) == 11)
        #expect(reserve.take(now: drawn + ExchangeIdReserve.maximumAge + .milliseconds(1)) == nil)
        #expect(reserve.take(now: drawn) == nil, "expired ids are dropped, not kept for later")
        reserve.keep([20, 21], drawnAt: drawn)
        reserve.keep([30], drawnAt: drawn)
        #expect(reserve.take(now: drawn) == 30, "a newer draw replaces what was kept")
        #expect(reserve.take(now: drawn) == nil)
    }

    @Test func aWorkerSettlesAgainstAnAccountThatMovedSinceItLastSawIt() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            let account = try await harness.openAccount(deposits: [(usdt, "1000")])
            let worker = harness.worker(venue: harness.venue())
            let first = try await harness.exchange(account, usdtBTC, "100")
            _ = try await harness.runUntilFinished(worker, [first])  // the worker caches the account
            // Another process creates on the account: the worker's cached account is stale.
            let second = try await otherProcess(harness).create(
                account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: "200"), metadata: EventMetadata(actor: "test"))
            let finished = try await harness.runUntilFinished(worker, [second])
            #expect(finished.map(\.status) == [.completed])
            #expect(try await harness.settlements(account, exchange: second.id) == 1)
            let balance = try await available(account, harness)
            #expect(balance.available == dec("700"))
            #expect(balance.held == dec("0"))
        }
    }

    /// Concurrent creates on different accounts commit together (one transaction for several),
    /// and each is whole: its events, its read-model row, its hold and its execution queue entry.
    /// One that is refused (a stale guess on an account another process moved) fails alone and
    /// is decided again.
    @Test func concurrentCreatesCommitTogetherEachWhole() async throws {
        try await TestDatabase.with { database in
            let harness = try Harness(database)
            var accounts: [AccountID] = []
            for n in 0..<24 { accounts.append(try await harness.openAccount("merchant \(n)", deposits: [(usdt, "100")])) }
            // Every fourth account is cached here and then moved by another process: a stale guess.
            for account in accounts.enumerated().filter({ $0.offset % 4 == 0 }).map(\.element) {
                _ = try await harness.exchange(account, usdtBTC, "10")
                _ = try await otherProcess(harness).create(
                    account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: "10"), metadata: EventMetadata(actor: "test"))
            }
            let start = try await harness.database.app.query("SELECT COALESCE(max(global_position), 0) FROM events").decode(Int64.self).first { _ in true } ?? 0
            let created = try await withThrowingTaskGroup(of: ExchangeID.self) { group in
                // Its store commits concurrent creates together, as the server's does.
                let together = harness.exchanges
                for account in accounts {
                    group.addTask {
                        try await together.create(
                            account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: "25"), metadata: EventMetadata(actor: "test")
                        ).id
                    }
                }
                var ids: [ExchangeID] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(Set(created).count == 24)
            let counts = try await harness.database.app.query(
                """
                SELECT (SELECT count(DISTINCT transaction_id)::int FROM events WHERE global_position > \(start)),
                       (SELECT count(*)::int FROM execution_queue WHERE exchange_id = ANY (\(created))),
                       (SELECT count(*)::int FROM read.exchanges WHERE id = ANY (\(created)))
                """
            ).decode((Int, Int, Int).self).first { _ in true }
            let (transactions, queued, rows) = try #require(counts)
            #expect(transactions < 24, "some creates shared a commit")
            #expect(queued == 24)
            #expect(rows == 24)
            // The inline read models wrote what the streams say (several creates' rows in one statement).
            let amounts = try await harness.database.app.query(
                "SELECT DISTINCT source_amount::text FROM read.exchanges WHERE id = ANY (\(created))"
            ).decode(String.self).reduce(into: [String]()) { $0.append($1) }
            #expect(amounts == ["25"])
            for (n, account) in accounts.enumerated() {
                let balance = try await available(account, harness)
                #expect(balance.available == dec(n % 4 == 0 ? "55" : "75"))
                #expect(balance.held == dec(n % 4 == 0 ? "45" : "25"))
                let read = try await harness.database.app.query(
                    "SELECT available::text, held::text FROM read.balances WHERE account_id = \(account.rawValue) AND currency = 'USDT_TRX'"
                ).decode((String, String).self).first { _ in true }
                #expect(read.map { dec($0.0) } == balance.available)
                #expect(read.map { dec($0.1) } == balance.held)
            }
        }
    }
}
