import Foundation

/// Everything pricing needs: currencies with their limits, pair rules, and how long rates and quotes live.
///
/// A `Market` is a value: the rate source loads a new one when rates or configuration change,
/// and pricing reads whichever value it was handed, so a quote is always computed against one
/// consistent snapshot.
public struct Market: Sendable, Equatable {
    /// Known currencies by code.
    public var currencies: [Currency: CurrencyInfo]
    /// Pricing rules by pair; a pair missing here cannot be exchanged.
    public var pairs: [CurrencyPair: PairRule]
    /// A rate with `rateAsOf` older than this many seconds is not used (error 107).
    public var maxRateAgeSeconds: Int
    /// How long a pre-calculated quote may be executed at its price.
    public var quoteTTLSeconds: Int
    /// Fraction by which the execution rate may be worse than the quoted one before `RATE_MOVED`.
    public var rateTolerance: Decimal

    /// Creates a market from already-indexed currencies and pairs.
    public init(
        currencies: [Currency: CurrencyInfo],
        pairs: [CurrencyPair: PairRule],
        maxRateAgeSeconds: Int,
        quoteTTLSeconds: Int,
        rateTolerance: Decimal
    ) {
        self.currencies = currencies
        self.pairs = pairs
        self.maxRateAgeSeconds = maxRateAgeSeconds
        self.quoteTTLSeconds = quoteTTLSeconds
        self.rateTolerance = rateTolerance
    }

    /// Creates a market from lists, indexing them by currency and pair (a later duplicate wins).
    public init(
        currencyList: [CurrencyInfo],
        pairList: [PairRule],
        maxRateAgeSeconds: Int,
        quoteTTLSeconds: Int,
        rateTolerance: Decimal
    ) {
        var currencies: [Currency: CurrencyInfo] = [:]
        for info in currencyList {
            currencies[info.currency] = info
        }
        var pairs: [CurrencyPair: PairRule] = [:]
        for rule in pairList {
            pairs[rule.pair] = rule
        }
        self.init(
            currencies: currencies,
            pairs: pairs,
            maxRateAgeSeconds: maxRateAgeSeconds,
            quoteTTLSeconds: quoteTTLSeconds,
            rateTolerance: rateTolerance
        )
    }

    /// A copy with `pair` enabled or disabled: the kill switch. An unknown pair leaves the market unchanged.
    public func withPair(_ pair: CurrencyPair, enabled: Bool) -> Market {
        var copy = self
        copy.pairs[pair]?.isEnabled = enabled
        return copy
    }

    /// Currencies sorted by code, for listings that must not depend on dictionary order.
    public var sortedCurrencies: [CurrencyInfo] {
        currencies.values.sorted { $0.currency < $1.currency }
    }

    /// Pair rules sorted by source then destination, for the same reason.
    public var sortedPairs: [PairRule] {
        pairs.values.sorted { ($0.pair.source, $0.pair.destination) < ($1.pair.source, $1.pair.destination) }
    }

    /// A market that runs locally without a market file, and the example file's content.
    ///
    /// Mid rates: 1 BTC = 96000, 1 ETH = 3400, 1 TRX = 0.25 of either stablecoin; BTC/ETH at the
    /// cross rate; the stablecoins at par. Each reverse pair is the exact inverse rounded down to
    /// 12 decimals. Spread 0.2 %, fee 0.1 %, no minimum fee; rates never age (`rateAsOf` nil).
    public static let defaults: Market = {
        let usdt: Currency = "USDT_TRX"
        let usdc: Currency = "USDC_ETH"
        let btc: Currency = "BTC"
        let eth: Currency = "ETH"
        let trx: Currency = "TRX"
        let currencies = [
            CurrencyInfo(currency: usdt, scale: 2, isCrypto: true, minAmount: 10, maxAmount: 100_000, dailyLimit: 250_000),
            CurrencyInfo(currency: usdc, scale: 2, isCrypto: true, minAmount: 10, maxAmount: 100_000, dailyLimit: 250_000),
            CurrencyInfo(currency: btc, scale: 8, isCrypto: true, minAmount: literal("0.0001"), maxAmount: 5, dailyLimit: 10),
            CurrencyInfo(currency: eth, scale: 8, isCrypto: true, minAmount: literal("0.001"), maxAmount: 100, dailyLimit: 250),
            CurrencyInfo(currency: trx, scale: 6, isCrypto: true, minAmount: 50, maxAmount: 1_000_000, dailyLimit: 2_500_000),
        ]
        var rules: [PairRule] = []
        func add(_ source: Currency, _ destination: Currency, mid: Decimal) {
            let spread = literal("0.002")
            let feeRate = literal("0.001")
            rules.append(PairRule(pair: CurrencyPair(source, destination), rate: mid, spread: spread, feeRate: feeRate))
            let inverse = (1 / mid).rounded(scale: PairRule.rateScale, .down)
            rules.append(PairRule(pair: CurrencyPair(destination, source), rate: inverse, spread: spread, feeRate: feeRate))
        }
        for stable in [usdt, usdc] {
            add(btc, stable, mid: 96_000)
            add(eth, stable, mid: 3_400)
            add(trx, stable, mid: literal("0.25"))
        }
        add(btc, eth, mid: (Decimal(96_000) / 3_400).rounded(scale: PairRule.rateScale, .down))
        add(usdt, usdc, mid: 1)
        return Market(currencyList: currencies, pairList: rules, maxRateAgeSeconds: 60, quoteTTLSeconds: 30, rateTolerance: literal("0.005"))
    }()

    /// A decimal from source text: Swift's float literals go through `Double`, which money must never touch.
    static func literal(_ text: String) -> Decimal {
        do {
            return try Amount.parseDecimal(text)
        } catch {
            preconditionFailure("invalid decimal literal \(text)")
        }
    }
}
