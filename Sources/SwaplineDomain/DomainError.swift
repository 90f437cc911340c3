import Foundation

/// Why an aggregate refused a command. Nothing was decided, so nothing is appended.
public enum DomainError: Error, Equatable, Sendable {
    /// `request` on an exchange id that already has a stream.
    case exchangeAlreadyExists
    /// A command for an exchange that was never requested.
    case exchangeNotFound
    /// The command does not apply in the exchange's current status (e.g. `complete` before `submit`).
    case illegalTransition(from: ExchangeStatus, command: String)
    /// `open` on an account that is already open.
    case accountAlreadyExists
    /// A command for an account that was never opened.
    case accountNotFound
    /// An amount or rate that must be positive is not.
    case invalidAmount
    /// Not enough available (unheld) balance; `available` is what there is.
    case insufficientBalance(available: Decimal)
    /// The hold would pass the daily limit; `remaining` is what is left today.
    case dailyLimitExceeded(remaining: Decimal)
    /// The exchange already holds funds on this account.
    case holdAlreadyExists
    /// No hold for this exchange on this account (released or settled already, or never placed).
    case holdNotFound

    /// A sentence for humans (API `message`, CLI output).
    public var message: String {
        switch self {
        case .exchangeAlreadyExists:
            return "exchange already exists"
        case .exchangeNotFound:
            return "exchange not found"
        case .illegalTransition(let from, let command):
            return "cannot \(command) an exchange that is \(from.rawValue)"
        case .accountAlreadyExists:
            return "account already exists"
        case .accountNotFound:
            return "account not found"
        case .invalidAmount:
            return "amount must be greater than zero"
        case .insufficientBalance(let available):
            return "insufficient balance: \(available.plainText) available"
        case .dailyLimitExceeded(let remaining):
            return "daily limit exceeded: \(remaining.plainText) remaining today"
        case .holdAlreadyExists:
            return "funds are already held for this exchange"
        case .holdNotFound:
            return "no funds are held for this exchange"
        }
    }
}
