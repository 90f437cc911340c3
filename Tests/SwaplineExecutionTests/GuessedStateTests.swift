import Foundation
import SwaplineApplication
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
}
