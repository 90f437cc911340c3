import SwaplineDomain

/// Calypso's error codes and Swapline's own, in Calypso's `{"errorCode": "NNN", "message": "…"}` form.
/// The table is documented in the README; CALYPSO.md fixes the numbers.
public enum ErrorCode: String, Sendable, CaseIterable {
    case internalError = "000"
    case badRequest = "001"
    case invalidAPIKey = "002"
    case wrongSign = "003"
    case notFound = "004"
    case invalidTimestamp = "011"
    case idempotencyKeyReused = "016"
    case pairUnavailable = "100"
    case belowMinimum = "101"
    case aboveMaximum = "102"
    case dailyLimitExceeded = "103"
    case insufficientBalance = "104"
    case quoteUnusable = "105"
    case replayedRequest = "106"
    case rateUnavailable = "107"
    case webhookURLRefused = "110"
    case rateLimitExceeded = "111"
    case serviceUnavailable = "112"

    /// Client errors answer 400 as Calypso does; a few have their own status.
    public var httpStatus: Int {
        switch self {
        case .internalError: 500
        case .rateLimitExceeded: 429
        case .serviceUnavailable: 503
        default: 400
        }
    }
}

/// An error a client is told about, with a message that says what to fix.
public struct SwaplineError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// Overrides the code's HTTP status (413 for an oversized body).
    public var httpStatus: Int

    public init(_ code: ErrorCode, _ message: String, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus ?? code.httpStatus
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func badRequest(_ message: String) -> SwaplineError { SwaplineError(.badRequest, message) }
    public static func notFound(_ message: String) -> SwaplineError { SwaplineError(.notFound, message) }
}

extension SwaplineError {
    public init(_ error: PricingError) {
        switch error {
        case .unknownCurrency, .pairUnavailable: self.init(.pairUnavailable, error.message)
        case .rateStale: self.init(.rateUnavailable, error.message)
        case .amount: self.init(.badRequest, error.message)
        case .belowMinimum: self.init(.belowMinimum, error.message)
        case .aboveMaximum: self.init(.aboveMaximum, error.message)
        }
    }

    public init(_ error: DomainError) {
        switch error {
        case .insufficientBalance: self.init(.insufficientBalance, error.message)
        case .dailyLimitExceeded: self.init(.dailyLimitExceeded, error.message)
        case .invalidAmount: self.init(.badRequest, error.message)
        case .accountNotFound, .exchangeNotFound, .holdNotFound: self.init(.notFound, error.message)
        case .exchangeAlreadyExists, .accountAlreadyExists, .holdAlreadyExists, .illegalTransition:
            self.init(.badRequest, error.message)
        }
    }

    public init(_ error: AmountError, field: String) {
        switch error {
        case .malformed: self.init(.badRequest, "\(field) is not a plain decimal number")
        case .notPositive: self.init(.badRequest, "\(field) must be greater than zero")
        case .tooManyDecimals(let scale): self.init(.badRequest, "\(field) has more than \(scale) decimals")
        }
    }
}
