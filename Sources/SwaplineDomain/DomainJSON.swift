import Foundation

/// The one place that fixes how domain values become JSON.
///
/// Every `Decimal` is written as an exact string (`"100.5"`) and every `Date` as a `Timestamp`
/// string by the types' own `Codable` conformances, so the bytes do not depend on which
/// `JSONEncoder` settings a caller picks; these coders add sorted keys so that the same value
/// always encodes to the same bytes (events are hashed).
public enum DomainJSON {
    /// A deterministic encoder: sorted keys, slashes unescaped, no pretty printing.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A plain decoder; strictness lives in the types' `init(from:)`.
    public static func makeDecoder() -> JSONDecoder {
        JSONDecoder()
    }

    /// Encodes `value` with `makeEncoder()`.
    public static func encode(_ value: some Encodable) throws -> Data {
        try makeEncoder().encode(value)
    }

    /// Decodes a `T` with `makeDecoder()`.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try makeDecoder().decode(type, from: data)
    }
}

extension KeyedDecodingContainer {
    /// Reads a non-negative decimal written as a string, with the strict amount grammar.
    func decodeDecimal(forKey key: Key) throws -> Decimal {
        let text = try decode(String.self, forKey: key)
        do {
            return try Amount.parseDecimal(text)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "invalid decimal '\(text)'")
        }
    }

    /// Reads a timestamp string written by `Timestamp.format(_:)`.
    func decodeTimestamp(forKey key: Key) throws -> Date {
        let text = try decode(String.self, forKey: key)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "invalid timestamp '\(text)'")
        }
        return date
    }
}

extension KeyedEncodingContainer {
    /// Writes a decimal as its exact minimal text, never as a JSON number (which readers parse as Double).
    mutating func encodeDecimal(_ value: Decimal, forKey key: Key) throws {
        try encode(value.plainText, forKey: key)
    }

    /// Writes a date as an ISO-8601 UTC string with milliseconds.
    mutating func encodeTimestamp(_ value: Date, forKey key: Key) throws {
        try encode(Timestamp.format(value), forKey: key)
    }
}
