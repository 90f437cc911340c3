import Foundation

/// An exchange's id: a positive 64-bit integer, as Calypso's `exchange/get` takes it.
public typealias ExchangeID = Int64

/// A merchant account id: `0x` followed by 40 hex characters, as Calypso writes them.
///
/// Stored lowercased so that the same account never appears under two spellings (in stream
/// names, SQL keys or comparisons). Encoded as a plain JSON string; decoding an invalid one throws.
public struct AccountID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The canonical, lowercased text (`0x` + 40 lowercase hex characters).
    public let rawValue: String

    /// Accepts `0x` + exactly 40 hex characters, in any case; nil otherwise.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        let bytes = Array(lowered.utf8)
        guard bytes.count == 42, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "x") else { return nil }
        let isHex = bytes.dropFirst(2).allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        guard isHex else { return nil }
        rawValue = lowered
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = AccountID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid account id '\(text)'")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
