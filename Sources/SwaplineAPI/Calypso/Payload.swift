import Foundation
import SwaplineApplication
import SwaplineDomain

/// Typed access to the request's `payload` object; every mistake is a 001 naming the field.
struct Payload {
    let value: JSONValue

    init(_ value: JSONValue?) throws(SwaplineError) {
        switch value {
        case nil, .null?: self.value = .object([])
        case .object?: self.value = value!
        case let other?: throw .badRequest("payload must be an object, got \(other.kindDescription)")
        }
    }

    /// Whether `field` is given. An optional field that is null is absent, as a null payload is `{}`.
    func has(_ field: String) -> Bool {
        switch value[field] {
        case nil, .null?: false
        default: true
        }
    }

    func optionalString(_ field: String, maxLength: Int = 200) throws(SwaplineError) -> String? {
        switch value[field] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard text.count <= maxLength else { throw .badRequest("payload.\(field) is longer than \(maxLength) characters") }
            return text
        case let other?: throw .badRequest("payload.\(field) must be a string, got \(other.kindDescription)")
        }
    }

    func string(_ field: String, maxLength: Int = 200) throws(SwaplineError) -> String {
        guard let text = try optionalString(field, maxLength: maxLength) else { throw .badRequest("payload.\(field) is required") }
        return text
    }

    /// A currency code; an unknown one is error 100, a malformed one 001.
    func currency(_ field: String, market: Market) throws(SwaplineError) -> Currency {
        let code = try string(field, maxLength: 32)
        guard Currency.isValidCode(code) else { throw .badRequest("payload.\(field) is not a currency code") }
        let currency = Currency(code)
        guard market.currencies[currency] != nil else { throw SwaplineError(.pairUnavailable, "unknown currency \(code)") }
        return currency
    }

    func pair(market: Market) throws(SwaplineError) -> CurrencyPair {
        let pair = CurrencyPair(try currency("sourceCurrency", market: market), try currency("destinationCurrency", market: market))
        guard let rule = market.pairs[pair], rule.isEnabled else {
            throw SwaplineError(.pairUnavailable, "currency pair \(pair) is not available")
        }
        return pair
    }

    /// An amount as its exact text: a JSON number or a numeric string, checked later at the
    /// currency's scale by the one strict amount parser.
    func optionalAmountText(_ field: String) throws(SwaplineError) -> String? {
        switch value[field] {
        case nil, .null?: return nil
        case .number(let text)?: return text
        case .string(let text)?: return text
        case let other?: throw .badRequest("payload.\(field) must be a number, got \(other.kindDescription)")
        }
    }

    func direction() throws(SwaplineError) -> Direction {
        guard let text = try optionalString("direction", maxLength: 8) else { return .sell }
        guard let direction = Direction(rawValue: text) else { throw .badRequest("payload.direction must be SELL or BUY") }
        return direction
    }

    /// An ISO-8601 time (`2026-11-25T10:00:00Z`) or a UTC date (`2026-11-25`, its midnight).
    func optionalTime(_ field: String) throws(SwaplineError) -> Date? {
        guard let text = try optionalString(field, maxLength: 40) else { return nil }
        if let time = Timestamp.parse(text) { return time }
        if let midnight = Timestamp.parse(text + "T00:00:00Z") { return midnight }
        throw .badRequest("payload.\(field) must be an ISO-8601 time or a date (YYYY-MM-DD)")
    }

    /// A positive int64 id, as a JSON integer or a string of digits.
    func identifier(_ field: String) throws(SwaplineError) -> Int64 {
        let text: String
        switch value[field] {
        case nil, .null?: throw .badRequest("payload.\(field) is required")
        case .number(let number)?: text = number
        case .string(let string)?: text = string
        case let other?: throw .badRequest("payload.\(field) must be an integer, got \(other.kindDescription)")
        }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let id = Int64(text), id > 0 else {
            throw .badRequest("payload.\(field) must be a positive integer")
        }
        return id
    }
}
