import Foundation

/// Which side of an exchange the requested amount names.
public enum Direction: String, Sendable, Codable, CaseIterable {
    /// The amount is what the account sells, in the source currency (Calypso's default).
    case sell = "SELL"
    /// The amount is what the account wants to receive, in the destination currency.
    case buy = "BUY"
}
