import Foundation

/// The account aggregate: balances, holds and the daily limit of one merchant account.
///
/// Money only moves between available and held, or in and out through deposits, withdrawals and
/// settlements, so every unit is accounted for (the house is the other side of each settlement).
public enum Account {
    /// Decides which events `command` produces against `state`, or why it is refused.
    public static func decide(_ command: AccountCommand, state: AccountState?) throws(DomainError) -> [AccountEvent] {
        if case .open(let account, let name, let at) = command {
            guard state == nil else { throw .accountAlreadyExists }
            return [.opened(AccountOpened(account: account, name: name, openedAt: at))]
        }
        guard let state else { throw .accountNotFound }

        switch command {
        case .open:
            throw .accountAlreadyExists
        case .deposit(let currency, let amount, let at):
            guard amount > 0 else { throw .invalidAmount }
            return [.deposited(FundsDeposited(currency: currency, amount: amount, at: at))]
        case .withdraw(let currency, let amount, let at):
            guard amount > 0 else { throw .invalidAmount }
            let available = state.availableBalance(currency)
            guard amount <= available else { throw .insufficientBalance(available: available) }
            return [.withdrawn(FundsWithdrawn(currency: currency, amount: amount, at: at))]
        case .hold(let exchangeId, let currency, let amount, let dailyLimit, let at):
            guard state.holds[exchangeId] == nil else { throw .holdAlreadyExists }
            guard amount > 0 else { throw .invalidAmount }
            let available = state.availableBalance(currency)
            guard amount <= available else { throw .insufficientBalance(available: available) }
            if let dailyLimit {
                let used = state.usedToday(currency, now: at)
                guard used + amount <= dailyLimit else { throw .dailyLimitExceeded(remaining: max(0, dailyLimit - used)) }
            }
            return [.held(FundsHeld(exchangeId: exchangeId, currency: currency, amount: amount, at: at))]
        case .release(let exchangeId, let reason, let at):
            guard let hold = state.holds[exchangeId] else { throw .holdNotFound }
            return [.released(HoldReleased(exchangeId: exchangeId, currency: hold.currency, amount: hold.amount, reason: reason, at: at))]
        case .settle(let exchangeId, let destinationCurrency, let destinationAmount, let at):
            guard let hold = state.holds[exchangeId] else { throw .holdNotFound }
            guard destinationAmount > 0 else { throw .invalidAmount }
            return [
                .settled(
                    ExchangeSettled(
                        exchangeId: exchangeId,
                        sourceCurrency: hold.currency,
                        sourceAmount: hold.amount,
                        destinationCurrency: destinationCurrency,
                        destinationAmount: destinationAmount,
                        at: at
                    )
                )
            ]
        }
    }

    /// Applies one event to `state`.
    ///
    /// Events are facts `decide` already accepted, so evolve does not judge them again and never
    /// traps; an event that cannot apply (before the account was opened, a second hold for the
    /// same exchange, a release of a hold that is gone) leaves the state unchanged.
    public static func evolve(_ state: AccountState?, _ event: AccountEvent) -> AccountState? {
        guard var state else {
            if case .opened(let opened) = event {
                return AccountState(account: opened.account, name: opened.name, openedAt: opened.openedAt)
            }
            return nil
        }
        switch event {
        case .opened:
            break
        case .deposited(let deposit):
            state.available[deposit.currency, default: 0] += deposit.amount
        case .withdrawn(let withdrawal):
            state.available[withdrawal.currency, default: 0] -= withdrawal.amount
        case .held(let held):
            guard state.holds[held.exchangeId] == nil else { break }
            let day = Timestamp.utcDay(held.at)
            state.available[held.currency, default: 0] -= held.amount
            state.adjustHeld(held.currency, by: held.amount)
            state.holds[held.exchangeId] = AccountState.Hold(exchangeId: held.exchangeId, currency: held.currency, amount: held.amount, day: day)
            state.dailyUsage[day, default: [:]][held.currency, default: 0] += held.amount
            state.pruneUsage()
        case .released(let released):
            // The hold's own record is used, not the event's copy, so held and holds can never disagree.
            guard let hold = state.holds.removeValue(forKey: released.exchangeId) else { break }
            state.adjustHeld(hold.currency, by: -hold.amount)
            state.available[hold.currency, default: 0] += hold.amount
            state.giveBackUsage(hold)
        case .settled(let settled):
            guard let hold = state.holds.removeValue(forKey: settled.exchangeId) else { break }
            state.adjustHeld(hold.currency, by: -hold.amount)
            state.available[settled.destinationCurrency, default: 0] += settled.destinationAmount
        }
        return state
    }

    /// The state after all `events`, in order; nil for an empty or never-opened stream.
    public static func replay(_ events: [AccountEvent]) -> AccountState? {
        events.reduce(nil, evolve)
    }
}

extension AccountState {
    fileprivate mutating func adjustHeld(_ currency: Currency, by delta: Decimal) {
        let total = heldBalance(currency) + delta
        held[currency] = total == 0 ? nil : total
    }

    fileprivate mutating func pruneUsage() {
        while dailyUsage.count > AccountState.retainedUsageDays, let oldest = dailyUsage.keys.min() {
            dailyUsage.removeValue(forKey: oldest)
        }
    }

    /// A released hold no longer counts against the day it was placed on, if that day is still kept.
    fileprivate mutating func giveBackUsage(_ hold: Hold) {
        guard var usage = dailyUsage[hold.day] else { return }
        let remaining = (usage[hold.currency] ?? 0) - hold.amount
        usage[hold.currency] = remaining > 0 ? remaining : nil
        dailyUsage[hold.day] = usage.isEmpty ? nil : usage
    }
}
