import Foundation
import SwaplineDomain
import Testing

@Suite struct AccountTests {
    /// Applies `command` to `state`, failing the test if it is refused.
    func apply(_ command: AccountCommand, to state: AccountState?) throws -> AccountState? {
        try Account.decide(command, state: state).reduce(state, Account.evolve)
    }

    /// An open account with 1000 USDT_TRX and 1 BTC.
    func funded() throws -> AccountState {
        var state = try apply(.open(account: alice, name: "Alice", at: t0), to: nil)
        state = try apply(.deposit(usdt, 1000, at: t0), to: state)
        state = try apply(.deposit(btc, 1, at: t0), to: state)
        return try #require(state)
    }

    @Test func openCreatesAnEmptyAccount() throws {
        let events = try Account.decide(.open(account: alice, name: "Alice", at: t0), state: nil)
        #expect(events == [.opened(AccountOpened(account: alice, name: "Alice", openedAt: t0))])
        let state = try #require(Account.replay(events))
        #expect(state == AccountState(account: alice, name: "Alice", openedAt: t0))
        #expect(state.availableBalance(usdt) == 0)
        #expect(state.heldBalance(usdt) == 0)
        #expect(throws: DomainError.accountAlreadyExists) { try Account.decide(.open(account: alice, name: "Again", at: t0), state: state) }
    }

    @Test(arguments: [
        AccountCommand.deposit(usdt, 1, at: t0),
        .withdraw(usdt, 1, at: t0),
        .hold(exchangeId: 1, currency: usdt, amount: 1, dailyLimit: nil, at: t0),
        .release(exchangeId: 1, reason: nil, at: t0),
        .settle(exchangeId: 1, destinationCurrency: btc, destinationAmount: 1, at: t0),
    ])
    func commandsOnAMissingAccountAreRefused(command: AccountCommand) {
        #expect(throws: DomainError.accountNotFound) { try Account.decide(command, state: nil) }
    }

    @Test func depositAndWithdraw() throws {
        var state = try funded()
        #expect(state.availableBalance(usdt) == 1000)
        #expect(state.availableBalance(btc) == 1)
        state = try #require(try apply(.withdraw(usdt, dec("250.25"), at: at(1)), to: state))
        #expect(state.availableBalance(usdt) == dec("749.75"))
        #expect(throws: DomainError.insufficientBalance(available: dec("749.75"))) {
            try Account.decide(.withdraw(usdt, dec("749.76"), at: at(2)), state: state)
        }
        state = try #require(try apply(.withdraw(usdt, dec("749.75"), at: at(2)), to: state))
        #expect(state.availableBalance(usdt) == 0)
        #expect(throws: DomainError.insufficientBalance(available: 0)) { try Account.decide(.withdraw(eth, 1, at: at(2)), state: state) }
        #expect(state.currencies == [btc, usdt])
    }

    @Test(arguments: ["0", "-1"])
    func amountsMustBePositive(amount: String) throws {
        let state = try funded()
        let value = dec(amount)
        #expect(throws: DomainError.invalidAmount) { try Account.decide(.deposit(usdt, value, at: t0), state: state) }
        #expect(throws: DomainError.invalidAmount) { try Account.decide(.withdraw(usdt, value, at: t0), state: state) }
        #expect(throws: DomainError.invalidAmount) {
            try Account.decide(.hold(exchangeId: 1, currency: usdt, amount: value, dailyLimit: nil, at: t0), state: state)
        }
    }

    @Test func holdMovesAvailableToHeld() throws {
        var state = try funded()
        let events = try Account.decide(.hold(exchangeId: 7, currency: usdt, amount: 100, dailyLimit: 500, at: t0), state: state)
        #expect(events == [.held(FundsHeld(exchangeId: 7, currency: usdt, amount: 100, at: t0))])
        state = try #require(events.reduce(state, Account.evolve))
        #expect(state.availableBalance(usdt) == 900)
        #expect(state.heldBalance(usdt) == 100)
        #expect(state.holds[7] == AccountState.Hold(exchangeId: 7, currency: usdt, amount: 100, day: "2026-11-25"))
        #expect(state.usedToday(usdt, now: t0) == 100)
        #expect(throws: DomainError.holdAlreadyExists) {
            try Account.decide(.hold(exchangeId: 7, currency: usdt, amount: 1, dailyLimit: nil, at: t0), state: state)
        }
        #expect(throws: DomainError.insufficientBalance(available: 900)) {
            try Account.decide(.hold(exchangeId: 8, currency: usdt, amount: dec("900.01"), dailyLimit: nil, at: t0), state: state)
        }
    }

    @Test func releaseReturnsTheHold() throws {
        var state = try funded()
        state = try #require(try apply(.hold(exchangeId: 7, currency: usdt, amount: 100, dailyLimit: nil, at: t0), to: state))
        let events = try Account.decide(.release(exchangeId: 7, reason: .venueRejected, at: at(5)), state: state)
        #expect(events == [.released(HoldReleased(exchangeId: 7, currency: usdt, amount: 100, reason: .venueRejected, at: at(5)))])
        state = try #require(events.reduce(state, Account.evolve))
        #expect(state.availableBalance(usdt) == 1000)
        #expect(state.heldBalance(usdt) == 0)
        #expect(state.held.isEmpty)
        #expect(state.holds.isEmpty)
        #expect(state.usedToday(usdt, now: at(5)) == 0)
        #expect(throws: DomainError.holdNotFound) { try Account.decide(.release(exchangeId: 7, reason: nil, at: at(6)), state: state) }
    }

    @Test func settleTakesTheHoldAndCreditsTheDestination() throws {
        var state = try funded()
        state = try #require(try apply(.hold(exchangeId: 7, currency: usdt, amount: 100, dailyLimit: nil, at: t0), to: state))
        state = try #require(try apply(.hold(exchangeId: 8, currency: usdt, amount: 50, dailyLimit: nil, at: t0), to: state))
        let events = try Account.decide(
            .settle(exchangeId: 7, destinationCurrency: btc, destinationAmount: dec("0.00103846"), at: at(5)),
            state: state
        )
        #expect(
            events == [
                .settled(
                    ExchangeSettled(
                        exchangeId: 7,
                        sourceCurrency: usdt,
                        sourceAmount: 100,
                        destinationCurrency: btc,
                        destinationAmount: dec("0.00103846"),
                        at: at(5)
                    )
                )
            ]
        )
        state = try #require(events.reduce(state, Account.evolve))
        #expect(state.availableBalance(usdt) == 850)
        #expect(state.heldBalance(usdt) == 50)
        #expect(state.availableBalance(btc) == dec("1.00103846"))
        #expect(state.holds.keys.sorted() == [8])
        // Settled exchanges keep counting against the day's limit.
        #expect(state.usedToday(usdt, now: at(5)) == 150)
        #expect(throws: DomainError.holdNotFound) {
            try Account.decide(.settle(exchangeId: 7, destinationCurrency: btc, destinationAmount: 1, at: at(6)), state: state)
        }
        #expect(throws: DomainError.invalidAmount) {
            try Account.decide(.settle(exchangeId: 8, destinationCurrency: btc, destinationAmount: 0, at: at(6)), state: state)
        }
    }

    @Test func dailyLimitCountsHoldsGivesBackReleasesAndResetsAtUTCMidnight() throws {
        var state = try funded()
        state = try #require(try apply(.deposit(usdt, 10_000, at: t0), to: state))
        let limit = Decimal(500)
        state = try #require(try apply(.hold(exchangeId: 1, currency: usdt, amount: 300, dailyLimit: limit, at: t0), to: state))
        state = try #require(try apply(.hold(exchangeId: 2, currency: usdt, amount: 150, dailyLimit: limit, at: at(10)), to: state))
        #expect(state.usedToday(usdt, now: at(10)) == 450)
        #expect(throws: DomainError.dailyLimitExceeded(remaining: 50)) {
            try Account.decide(.hold(exchangeId: 3, currency: usdt, amount: dec("50.01"), dailyLimit: limit, at: at(20)), state: state)
        }
        // Exactly up to the limit is allowed.
        #expect(try Account.decide(.hold(exchangeId: 3, currency: usdt, amount: 50, dailyLimit: limit, at: at(20)), state: state).count == 1)
        // Without a limit, only the balance matters.
        #expect(try Account.decide(.hold(exchangeId: 3, currency: usdt, amount: 5_000, dailyLimit: nil, at: at(20)), state: state).count == 1)
        // Other currencies have their own usage.
        #expect(try Account.decide(.hold(exchangeId: 3, currency: btc, amount: 1, dailyLimit: 1, at: at(20)), state: state).count == 1)

        // A failed exchange gives its amount back to the day's limit.
        state = try #require(try apply(.release(exchangeId: 2, reason: .venueTimeout, at: at(30)), to: state))
        #expect(state.usedToday(usdt, now: at(30)) == 300)
        #expect(try Account.decide(.hold(exchangeId: 3, currency: usdt, amount: 200, dailyLimit: limit, at: at(40)), state: state).count == 1)

        // A new UTC day starts from zero: 2026-11-26T00:00:00Z is 14 h after t0.
        let midnight = at(14 * 3600)
        #expect(state.usedToday(usdt, now: midnight.addingTimeInterval(-0.001)) == 300)
        #expect(state.usedToday(usdt, now: midnight) == 0)
        state = try #require(try apply(.hold(exchangeId: 4, currency: usdt, amount: 500, dailyLimit: limit, at: midnight), to: state))
        #expect(state.usedToday(usdt, now: midnight) == 500)
        #expect(state.holds[4]?.day == "2026-11-26")

        // Releasing yesterday's hold gives back yesterday, not today.
        state = try #require(try apply(.release(exchangeId: 1, reason: nil, at: midnight), to: state))
        #expect(state.usedToday(usdt, now: midnight) == 500)
        #expect(state.usedToday(usdt, now: t0) == 0)
    }

    @Test func dailyUsageKeepsOnlyTheTwoMostRecentDays() throws {
        var state = try funded()
        for day in 0..<5 {
            state = try #require(
                try apply(.hold(exchangeId: ExchangeID(day), currency: usdt, amount: 10, dailyLimit: 100, at: at(day * 86_400)), to: state)
            )
        }
        #expect(state.dailyUsage.keys.sorted() == ["2026-11-28", "2026-11-29"])
        // Releasing a hold from a pruned day still returns the money, and touches no kept day.
        state = try #require(try apply(.release(exchangeId: 0, reason: nil, at: at(5 * 86_400)), to: state))
        #expect(state.availableBalance(usdt) == 960)
        #expect(state.dailyUsage.keys.sorted() == ["2026-11-28", "2026-11-29"])
        #expect(state.usedToday(usdt, now: at(4 * 86_400)) == 10)
    }

    @Test func evolveIgnoresEventsThatDoNotApply() throws {
        let opened = AccountEvent.opened(AccountOpened(account: alice, name: "Alice", openedAt: t0))
        let deposit = AccountEvent.deposited(FundsDeposited(currency: usdt, amount: 100, at: t0))
        let held = AccountEvent.held(FundsHeld(exchangeId: 1, currency: usdt, amount: 40, at: t0))
        let released = AccountEvent.released(HoldReleased(exchangeId: 1, currency: usdt, amount: 40, reason: nil, at: t0))
        let settled = AccountEvent.settled(
            ExchangeSettled(exchangeId: 1, sourceCurrency: usdt, sourceAmount: 40, destinationCurrency: btc, destinationAmount: 1, at: t0)
        )
        #expect(Account.replay([deposit, held]) == nil)
        let base = Account.replay([opened, deposit, held])
        #expect(Account.replay([opened, deposit, held, held]) == base)
        #expect(Account.replay([opened, deposit, held, opened]) == base)
        let afterRelease = Account.replay([opened, deposit, held, released])
        #expect(Account.replay([opened, deposit, held, released, released]) == afterRelease)
        #expect(Account.replay([opened, deposit, held, released, settled]) == afterRelease)
        #expect(Account.replay([opened, deposit, settled]) == Account.replay([opened, deposit]))
    }

    @Test func limitsForAPair() throws {
        let market = testMarket()
        var state = try funded()
        var limits = try state.limits(for: usdtBTC, market: market, now: t0)
        #expect(limits.minAmount == 10)
        #expect(limits.maxAmount == 1000)  // the balance is the tightest
        limits = try state.limits(for: btcUSDT, market: market, now: t0)
        #expect(limits.minAmount == dec("0.0001"))
        #expect(limits.maxAmount == 1)

        state = try #require(try apply(.deposit(usdt, 1_000_000, at: t0), to: state))
        #expect(try state.limits(for: usdtBTC, market: market, now: t0).maxAmount == 100_000)  // the per-exchange maximum

        for id in 1...3 {
            state = try #require(
                try apply(.hold(exchangeId: ExchangeID(id), currency: usdt, amount: dec("80000.005"), dailyLimit: nil, at: t0), to: state)
            )
        }
        // 250000 − 240000.015 = 9999.985, rounded down to the scale.
        #expect(try state.limits(for: usdtBTC, market: market, now: t0).maxAmount == dec("9999.98"))
        state = try #require(try apply(.hold(exchangeId: 4, currency: usdt, amount: 20_000, dailyLimit: nil, at: t0), to: state))
        #expect(try state.limits(for: usdtBTC, market: market, now: t0).maxAmount == 0)  // floored, never negative
        #expect(try state.limits(for: usdtBTC, market: market, now: at(86_400)).maxAmount == 100_000)

        #expect(throws: PricingError.pairUnavailable(usdtBTC)) {
            try state.limits(for: usdtBTC, market: market.withPair(usdtBTC, enabled: false), now: t0)
        }
        #expect(throws: PricingError.unknownCurrency("XYZ")) { try state.limits(for: CurrencyPair("XYZ", btc), market: market, now: t0) }
        #expect(throws: PricingError.pairUnavailable(CurrencyPair(usdt, eth))) {
            try state.limits(for: CurrencyPair(usdt, eth), market: market, now: t0)
        }
    }
}
