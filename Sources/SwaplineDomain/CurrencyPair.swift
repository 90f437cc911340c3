import Foundation

/// An ordered pair: the account sells `source` and receives `destination`.
public struct CurrencyPair: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The currency the account sells (and the fee is charged in).
    public var source: Currency
    /// The currency the account receives.
    public var destination: Currency

    /// Creates the pair `source/destination`.
    public init(source: Currency, destination: Currency) {
        self.source = source
        self.destination = destination
    }

    /// Shorthand for `init(source:destination:)`.
    public init(_ source: Currency, _ destination: Currency) {
        self.init(source: source, destination: destination)
    }

    /// The same two currencies the other way round.
    public var reversed: CurrencyPair {
        CurrencyPair(source: destination, destination: source)
    }

    /// `SOURCE/DESTINATION`, e.g. `USDT_TRX/BTC`, as it appears in logs and error messages.
    public var description: String {
        "\(source.code)/\(destination.code)"
    }
}
