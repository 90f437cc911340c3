import Foundation

extension Market {
    /// Reads a market file (`SWAPLINE_MARKET_FILE`).
    ///
    /// Every amount, rate and fraction is a JSON **string** parsed with `Amount.parseDecimal`, so
    /// nothing passes through `Double`:
    ///
    /// ```json
    /// {
    ///   "maxRateAgeSeconds": 60,
    ///   "quoteTTLSeconds": 30,
    ///   "rateTolerance": "0.005",
    ///   "currencies": [
    ///     {"code": "BTC", "scale": 8, "crypto": true, "minAmount": "0.0001", "maxAmount": "5", "dailyLimit": "10"}
    ///   ],
    ///   "pairs": [
    ///     {"source": "USDT_TRX", "destination": "BTC", "rate": "0.0000104", "rateAsOf": "2026-11-25T10:00:00Z",
    ///      "spread": "0.002", "fee": "0.001", "minFee": "0", "enabled": true}
    ///   ]
    /// }
    /// ```
    ///
    /// `rate` is the mid rate in destination units per source unit; `spread` and `fee` are fractions
    /// in `[0, 1)`; `minFee` (default 0) is in the source currency at its scale; `rateAsOf` (optional,
    /// ISO-8601) makes the rate age; `enabled` defaults to true. Limits apply when the currency is sold
    /// and must be at its scale with `minAmount ≤ maxAmount`. Unknown keys are ignored.
    ///
    /// - Throws: `MarketError`, naming the offending entry.
    public static func decode(json: Data) throws -> Market {
        let document: MarketDocument
        do {
            document = try JSONDecoder().decode(MarketDocument.self, from: json)
        } catch let error as DecodingError {
            throw MarketError.invalidDocument(Self.describe(error))
        } catch {
            throw MarketError.invalidDocument("\(error)")
        }
        return try document.market()
    }

    /// Writes this market in the format `decode(json:)` reads, currencies and pairs sorted, keys
    /// sorted and pretty-printed, so `defaults` can be dumped as an example file and diffs stay small.
    public func encodeJSON() -> Data {
        let document = MarketDocument(
            maxRateAgeSeconds: maxRateAgeSeconds,
            quoteTTLSeconds: quoteTTLSeconds,
            rateTolerance: rateTolerance.plainText,
            currencies: sortedCurrencies.map { info in
                MarketDocument.CurrencyEntry(
                    code: info.currency.code,
                    scale: info.scale,
                    crypto: info.isCrypto,
                    minAmount: info.minAmount.plainText,
                    maxAmount: info.maxAmount.plainText,
                    dailyLimit: info.dailyLimit.plainText
                )
            },
            pairs: sortedPairs.map { rule in
                MarketDocument.PairEntry(
                    source: rule.pair.source.code,
                    destination: rule.pair.destination.code,
                    rate: rule.rate.plainText,
                    rateAsOf: rule.rateAsOf.map(Timestamp.format),
                    spread: rule.spread.plainText,
                    fee: rule.feeRate.plainText,
                    minFee: rule.minFee.plainText,
                    enabled: rule.isEnabled
                )
            }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Only strings, integers and booleans are encoded, which JSONEncoder cannot fail on.
        return (try? encoder.encode(document)) ?? Data()
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.isEmpty ? "the document" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \(key.stringValue) in \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "invalid value at \(path(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }
}

/// The market file's JSON shape, kept apart from `Market` so the file format can stay stable
/// while the domain types evolve.
private struct MarketDocument: Codable {
    struct CurrencyEntry: Codable {
        var code: String
        var scale: Int
        var crypto: Bool
        var minAmount: String
        var maxAmount: String
        var dailyLimit: String
    }

    struct PairEntry: Codable {
        var source: String
        var destination: String
        var rate: String
        var rateAsOf: String?
        var spread: String
        var fee: String
        var minFee: String?
        var enabled: Bool?
    }

    var maxRateAgeSeconds: Int
    var quoteTTLSeconds: Int
    var rateTolerance: String
    var currencies: [CurrencyEntry]
    var pairs: [PairEntry]

    func market() throws(MarketError) -> Market {
        guard maxRateAgeSeconds > 0 else {
            throw .invalidSetting(name: "maxRateAgeSeconds", reason: "must be a positive number of seconds")
        }
        guard quoteTTLSeconds > 0 else {
            throw .invalidSetting(name: "quoteTTLSeconds", reason: "must be a positive number of seconds")
        }
        guard let tolerance = try? Amount.parseDecimal(rateTolerance), tolerance < 1 else {
            throw .invalidSetting(name: "rateTolerance", reason: "must be a decimal string in [0, 1), got '\(rateTolerance)'")
        }

        var currencyInfos: [Currency: CurrencyInfo] = [:]
        for entry in currencies {
            let info = try entry.info()
            guard currencyInfos[info.currency] == nil else {
                throw .invalidCurrency(code: entry.code, reason: "listed twice")
            }
            currencyInfos[info.currency] = info
        }

        var rules: [CurrencyPair: PairRule] = [:]
        for entry in pairs {
            let rule = try entry.rule(currencies: currencyInfos)
            guard rules[rule.pair] == nil else {
                throw .invalidPair(pair: rule.pair.description, reason: "listed twice")
            }
            rules[rule.pair] = rule
        }

        return Market(
            currencies: currencyInfos,
            pairs: rules,
            maxRateAgeSeconds: maxRateAgeSeconds,
            quoteTTLSeconds: quoteTTLSeconds,
            rateTolerance: tolerance
        )
    }
}

extension MarketDocument.CurrencyEntry {
    /// Most decimals a currency may declare; beyond it amounts stop fitting a Decimal comfortably.
    static let maxScale = 18

    func info() throws(MarketError) -> CurrencyInfo {
        guard Currency.isValidCode(code) else {
            throw .invalidCurrency(code: code, reason: "code must be 1–32 characters of A–Z, 0–9 and _")
        }
        guard (0...Self.maxScale).contains(scale) else {
            throw .invalidCurrency(code: code, reason: "scale must be between 0 and \(Self.maxScale)")
        }
        let minimum = try amount(minAmount, name: "minAmount")
        let maximum = try amount(maxAmount, name: "maxAmount")
        let daily = try amount(dailyLimit, name: "dailyLimit")
        guard minimum <= maximum else {
            throw .invalidCurrency(code: code, reason: "minAmount \(minAmount) is greater than maxAmount \(maxAmount)")
        }
        return CurrencyInfo(
            currency: Currency(code),
            scale: scale,
            isCrypto: crypto,
            minAmount: minimum,
            maxAmount: maximum,
            dailyLimit: daily
        )
    }

    private func amount(_ text: String, name: String) throws(MarketError) -> Decimal {
        guard let value = try? Amount.parseDecimal(text) else {
            throw .invalidCurrency(code: code, reason: "\(name) '\(text)' is not a decimal string")
        }
        guard value.rounded(scale: scale, .down) == value else {
            throw .invalidCurrency(code: code, reason: "\(name) \(text) has more than \(scale) decimals")
        }
        return value
    }
}

extension MarketDocument.PairEntry {
    func rule(currencies: [Currency: CurrencyInfo]) throws(MarketError) -> PairRule {
        let name = "\(source)/\(destination)"
        guard let sourceInfo = currencies[Currency(source)] else {
            throw .invalidPair(pair: name, reason: "unknown currency \(source)")
        }
        guard currencies[Currency(destination)] != nil else {
            throw .invalidPair(pair: name, reason: "unknown currency \(destination)")
        }
        guard source != destination else {
            throw .invalidPair(pair: name, reason: "source and destination are the same currency")
        }
        guard let mid = try? Amount.parseDecimal(rate), mid > 0 else {
            throw .invalidPair(pair: name, reason: "rate must be a positive decimal string, got '\(rate)'")
        }
        var asOf: Date?
        if let rateAsOf {
            guard let parsed = Timestamp.parse(rateAsOf) else {
                throw .invalidPair(pair: name, reason: "rateAsOf '\(rateAsOf)' is not an ISO-8601 timestamp")
            }
            asOf = parsed
        }
        guard let spreadValue = try? Amount.parseDecimal(spread), spreadValue < 1 else {
            throw .invalidPair(pair: name, reason: "spread must be a decimal string in [0, 1), got '\(spread)'")
        }
        guard let feeValue = try? Amount.parseDecimal(fee), feeValue < 1 else {
            throw .invalidPair(pair: name, reason: "fee must be a decimal string in [0, 1), got '\(fee)'")
        }
        var minimumFee = Decimal(0)
        if let minFee {
            guard let value = try? Amount.parseDecimal(minFee), value.rounded(scale: sourceInfo.scale, .down) == value else {
                throw .invalidPair(pair: name, reason: "minFee must be a decimal string at \(source)'s scale \(sourceInfo.scale), got '\(minFee)'")
            }
            minimumFee = value
        }
        return PairRule(
            pair: CurrencyPair(Currency(source), Currency(destination)),
            rate: mid,
            rateAsOf: asOf,
            spread: spreadValue,
            feeRate: feeValue,
            minFee: minimumFee,
            isEnabled: enabled ?? true
        )
    }
}
