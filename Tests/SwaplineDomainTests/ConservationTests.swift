import Foundation
import SwaplineDomain
import Testing

/// Money is conserved: for every currency, all accounts' balances (available + held) plus the house
/// equal deposits minus withdrawals, where the house receives each completed exchange's source amount
/// and pays its destination amount.
@Suite struct ConservationTests {
    struct Ledger {
        var accounts: [AccountID: AccountState] = [:]
        var accountStreams: [AccountID: [AccountEvent]] = [:]
        var exchanges: [ExchangeID: ExchangeState] = [:]
        var exchangeStreams: [ExchangeID: [ExchangeEvent]] = [:]

        mutating func account(_ id: AccountID, _ command: AccountCommand) throws {
            let events = try Account.decide(command, state: accounts[id])
            accountStreams[id, default: []] += events
            accounts[id] = events.reduce(accounts[id], Account.evolve)
        }

        mutating func exchange(_ id: ExchangeID, _ command: ExchangeCommand) throws {
            let events = try Exchange.decide(command, state: exchanges[id])
            exchangeStreams[id, default: []] += events
            exchanges[id] = events.reduce(exchanges[id], Exchange.evolve)
        }

        /// What the create use case does: price, request, hold (one transaction in the real store).
        mutating func create(_ id: ExchangeID, by account: AccountID, _ pair: CurrencyPair, sell amount: String, market: Market, at now: Date) throws
        {
            let price = try market.price(pair, amountText: amount, direction: .sell, now: now)
            let limit = market.currencies[pair.source]?.dailyLimit
            try self.account(account, .hold(exchangeId: id, currency: pair.source, amount: price.sourceAmount, dailyLimit: limit, at: now))
            try exchange(id, .request(ExchangeRequested(id: id, account: account, price: price, requestedAt: now)))
        }

        mutating func complete(_ id: ExchangeID, at now: Date) throws {
            let state = try #require(exchanges[id])
            try exchange(id, .quote(executionRate: state.request.price.rate, at: now))
            try exchange(id, .submit(clientOrderId: "order-\(id)", at: now))
            try exchange(id, .complete(at: now))
            let completed = try #require(exchanges[id]?.completed)
            try account(
                state.request.account,
                .settle(
                    exchangeId: id,
                    destinationCurrency: state.request.price.pair.destination,
                    destinationAmount: completed.destinationAmount,
                    at: now
                )
            )
        }

        mutating func fail(_ id: ExchangeID, _ reason: FailureReason, at now: Date) throws {
            let state = try #require(exchanges[id])
            try exchange(id, .fail(reason, detail: nil, at: now))
            try account(state.request.account, .release(exchangeId: id, reason: reason, at: now))
        }
    }

    @Test func balancesPlusHouseEqualDepositsMinusWithdrawals() throws {
        let market = Market.defaults
        var ledger = Ledger()
        try ledger.account(alice, .open(account: alice, name: "Alice", at: t0))
        try ledger.account(bob, .open(account: bob, name: "Bob", at: t0))
        try ledger.account(alice, .deposit(usdt, 10_000, at: t0))
        try ledger.account(alice, .deposit(btc, 1, at: t0))
        try ledger.account(bob, .deposit(eth, 10, at: t0))
        try ledger.account(bob, .deposit("TRX", dec("5000.5"), at: t0))

        try ledger.create(1, by: alice, usdtBTC, sell: "1234.56", market: market, at: at(1))
        try ledger.create(2, by: alice, btcUSDT, sell: "0.12345678", market: market, at: at(2))
        try ledger.create(3, by: bob, CurrencyPair(eth, btc), sell: "2.5", market: market, at: at(3))
        try ledger.create(4, by: bob, CurrencyPair("TRX", usdt), sell: "4000.123456", market: market, at: at(4))
        try ledger.create(5, by: alice, CurrencyPair(usdt, eth), sell: "333.33", market: market, at: at(5))
        try ledger.complete(1, at: at(10))
        try ledger.complete(2, at: at(11))
        try ledger.fail(3, .rateMoved, at: at(12))
        try ledger.complete(4, at: at(13))
        // Exchange 5 stays in progress: its funds are held, still inside the account.
        try ledger.account(alice, .withdraw(usdt, 100, at: at(20)))
        try ledger.account(bob, .withdraw(usdt, dec("0.01"), at: at(21)))

        var expected: [Currency: Decimal] = [:]
        for event in ledger.accountStreams.values.joined() {
            switch event {
            case .deposited(let deposit): expected[deposit.currency, default: 0] += deposit.amount
            case .withdrawn(let withdrawal): expected[withdrawal.currency, default: 0] -= withdrawal.amount
            default: break
            }
        }

        // The house side, from the exchange streams alone: the pair from ExchangeRequested,
        // the amounts from ExchangeCompleted.
        var house: [Currency: Decimal] = [:]
        for stream in ledger.exchangeStreams.values {
            var pair: CurrencyPair?
            for event in stream {
                switch event {
                case .requested(let request):
                    pair = request.price.pair
                case .completed(let completed):
                    let pair = try #require(pair)
                    house[pair.source, default: 0] += completed.sourceAmount
                    house[pair.destination, default: 0] -= completed.destinationAmount
                default:
                    break
                }
            }
        }

        var total: [Currency: Decimal] = house
        for state in ledger.accounts.values {
            for (currency, amount) in state.available { total[currency, default: 0] += amount }
            for (currency, amount) in state.held { total[currency, default: 0] += amount }
        }
        let currencies = Set(total.keys).union(expected.keys)
        for currency in currencies {
            #expect(total[currency, default: 0] == expected[currency, default: 0], "\(currency)")
        }
        // The sample really moved money both ways and left one hold open.
        #expect(house[usdt, default: 0] != 0)
        #expect(house[btc, default: 0] != 0)
        #expect(ledger.accounts[alice]?.heldBalance(usdt) == dec("333.33"))
        #expect(ledger.accounts[bob]?.heldBalance(eth) == 0)
        #expect(ledger.exchanges[3]?.status == .failed)
        #expect(ledger.exchanges[5]?.status == .requested)

        // Replaying the recorded streams gives the same states: the events carry all the facts.
        for (id, stream) in ledger.accountStreams {
            #expect(Account.replay(stream) == ledger.accounts[id])
        }
        for (id, stream) in ledger.exchangeStreams {
            #expect(Exchange.replay(stream) == ledger.exchanges[id])
        }
    }
}
