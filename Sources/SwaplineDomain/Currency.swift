import Foundation

/// A currency code such as `USDT_TRX`, `BTC` or `USDC_ETH` (asset plus network where it matters).
///
/// Encoded as a plain JSON string so that event payloads and API bodies read naturally.
/// Decoding only accepts the code alphabet (`A–Z`, `0–9`, `_`, 1–32 characters) so that a
/// malformed code is refused at the edge instead of flowing into logs, SQL or stream names.
public struct Currency: Hashable, Sendable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The currency code, exactly as written in the market file and the API.
    public let code: String

    /// Wraps a code without validating it; use `isValidCode(_:)` for untrusted text.
    public init(_ code: String) {
        self.code = code
    }

    /// Allows `let btc: Currency = "BTC"` in configuration and tests.
    public init(stringLiteral value: String) {
        self.code = value
    }

    /// Whether `text` uses the code alphabet: 1–32 characters of `A–Z`, `0–9` and `_`.
    public static func isValidCode(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }

    public var description: String { code }

    public static func < (lhs: Currency, rhs: Currency) -> Bool {
        lhs.code < rhs.code
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard Currency.isValidCode(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid currency code '\(text)'")
        }
        self.code = text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}
