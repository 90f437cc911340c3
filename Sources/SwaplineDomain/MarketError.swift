import Foundation

/// Why a market file was refused; each case names the entry at fault so an operator can fix it.
public enum MarketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The document is not JSON of the market shape (missing field, wrong type).
    case invalidDocument(String)
    /// A top-level setting (`maxRateAgeSeconds`, `quoteTTLSeconds`, `rateTolerance`) is out of range.
    case invalidSetting(name: String, reason: String)
    /// A currency entry is invalid; `code` is the entry's code as written.
    case invalidCurrency(code: String, reason: String)
    /// A pair entry is invalid; `pair` is `SOURCE/DESTINATION` as written.
    case invalidPair(pair: String, reason: String)

    /// A sentence for the operator who wrote the file.
    public var message: String {
        switch self {
        case .invalidDocument(let reason):
            return "market file is not valid: \(reason)"
        case .invalidSetting(let name, let reason):
            return "market setting \(name): \(reason)"
        case .invalidCurrency(let code, let reason):
            return "market currency \(code): \(reason)"
        case .invalidPair(let pair, let reason):
            return "market pair \(pair): \(reason)"
        }
    }

    public var description: String { message }
}
