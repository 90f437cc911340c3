import Foundation
import SwaplineDomain
import Testing

@Suite struct MarketTests {
    @Test func defaultsHaveTheDocumentedCurrenciesAndPairs() throws {
        let market = Market.defaults
        #expect(Set(market.currencies.keys) == ["USDT_TRX", "USDC_ETH", "BTC", "ETH", "TRX"])
        #expect(market.currencies[btc]?.scale == 8)
        #expect(market.currencies["TRX"]?.scale == 6)
        #expect(market.currencies[usdt]?.minAmount == 10)
        #expect(market.currencies[btc]?.minAmount == dec("0.0001"))
        #expect(market.currencies[eth]?.dailyLimit == 250)
        #expect(market.pairs.count == 16)
        #expect(market.pairs[btcUSDT]?.rate == 96_000)
        #expect(market.pairs[usdtBTC]?.rate == dec("0.000010416666"))
        #expect(market.pairs[CurrencyPair("TRX", usdt)]?.rate == dec("0.25"))
        #expect(market.pairs[CurrencyPair(usdt, "TRX")]?.rate == 4)
        #expect(market.pairs[CurrencyPair(btc, eth)]?.rate == dec("28.235294117647"))
        #expect(market.pairs[CurrencyPair(eth, btc)]?.rate == dec("0.035416666666"))
        #expect(market.pairs[CurrencyPair(usdt, "USDC_ETH")]?.rate == 1)
        #expect(market.pairs[CurrencyPair("USDC_ETH", btc)]?.rate == dec("0.000010416666"))
        #expect(market.pairs[CurrencyPair(btc, "TRX")] == nil)
        for rule in market.pairs.values {
            #expect(rule.spread == dec("0.002"))
            #expect(rule.feeRate == dec("0.001"))
            #expect(rule.minFee == 0)
            #expect(rule.isEnabled)
            #expect(rule.rateAsOf == nil)
            #expect(market.pairs[rule.pair.reversed] != nil, "every pair trades both ways")
        }
        #expect(market.maxRateAgeSeconds == 60)
        #expect(market.quoteTTLSeconds == 30)
        #expect(market.rateTolerance == dec("0.005"))
    }

    @Test func defaultsRoundTripThroughJSON() throws {
        let json = Market.defaults.encodeJSON()
        #expect(try Market.decode(json: json) == Market.defaults)
        // Deterministic: the same market always writes the same bytes.
        #expect(Market.defaults.encodeJSON() == json)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"rate\" : \"0.000010416666\""))
        #expect(!text.contains("e-"))
    }

    @Test func marketWithAgeingRatesAndMinimumFeeRoundTrips() throws {
        let market = testMarket(minFee: dec("0.5"), rateAsOf: at(-5)).withPair(btcUSDT, enabled: false)
        #expect(try Market.decode(json: market.encodeJSON()) == market)
    }

    @Test func decodesTheDocumentedShape() throws {
        let json = """
            {"maxRateAgeSeconds": 90, "quoteTTLSeconds": 15, "rateTolerance": "0.01", "extra": "ignored",
             "currencies": [
               {"code": "BTC", "scale": 8, "crypto": true, "minAmount": "0.0001", "maxAmount": "5", "dailyLimit": "10"},
               {"code": "USDT_TRX", "scale": 2, "crypto": true, "minAmount": "10", "maxAmount": "100000", "dailyLimit": "250000.00"}
             ],
             "pairs": [
               {"source": "USDT_TRX", "destination": "BTC", "rate": "0.0000104", "rateAsOf": "2026-11-25T10:00:00Z",
                "spread": "0.002", "fee": "0.001", "minFee": "0.50", "enabled": false},
               {"source": "BTC", "destination": "USDT_TRX", "rate": "96000", "spread": "0", "fee": "0"}
             ]}
            """
        let market = try Market.decode(json: Data(json.utf8))
        #expect(market.maxRateAgeSeconds == 90)
        #expect(market.quoteTTLSeconds == 15)
        #expect(market.rateTolerance == dec("0.01"))
        #expect(
            market.currencies[usdt] == CurrencyInfo(currency: usdt, scale: 2, isCrypto: true, minAmount: 10, maxAmount: 100_000, dailyLimit: 250_000)
        )
        #expect(
            market.pairs[usdtBTC]
                == PairRule(
                    pair: usdtBTC,
                    rate: dec("0.0000104"),
                    rateAsOf: t0,
                    spread: dec("0.002"),
                    feeRate: dec("0.001"),
                    minFee: dec("0.5"),
                    isEnabled: false
                )
        )
        #expect(market.pairs[btcUSDT] == PairRule(pair: btcUSDT, rate: 96_000, spread: 0, feeRate: 0, minFee: 0, isEnabled: true))
    }

    static let validCurrency = #"{"code": "BTC", "scale": 8, "crypto": true, "minAmount": "0.0001", "maxAmount": "5", "dailyLimit": "10"}"#
    static let validCurrency2 = #"{"code": "ETH", "scale": 8, "crypto": true, "minAmount": "0.001", "maxAmount": "100", "dailyLimit": "250"}"#

    static func document(
        settings: String = #""maxRateAgeSeconds": 60, "quoteTTLSeconds": 30, "rateTolerance": "0.005""#,
        currencies: [String] = [validCurrency, validCurrency2],
        pairs: [String]
    ) -> Data {
        Data("{\(settings), \"currencies\": [\(currencies.joined(separator: ","))], \"pairs\": [\(pairs.joined(separator: ","))]}".utf8)
    }

    static func pair(source: String = "BTC", destination: String = "ETH", rate: String = #""28.2""#, extra: String = "") -> String {
        #"{"source": "\#(source)", "destination": "\#(destination)", "rate": \#(rate), "spread": "0.002", "fee": "0.001"\#(extra)}"#
    }

    @Test func acceptsTheValidFixture() throws {
        let market = try Market.decode(json: Self.document(pairs: [Self.pair()]))
        #expect(market.pairs.count == 1)
    }

    @Test(arguments: [
        (document(pairs: [pair(destination: "XRP")]), MarketError.invalidPair(pair: "BTC/XRP", reason: "unknown currency XRP")),
        (document(pairs: [pair(source: "DOGE")]), MarketError.invalidPair(pair: "DOGE/ETH", reason: "unknown currency DOGE")),
        (
            document(pairs: [pair(destination: "BTC")]),
            MarketError.invalidPair(pair: "BTC/BTC", reason: "source and destination are the same currency")
        ),
        (document(pairs: [pair(), pair()]), MarketError.invalidPair(pair: "BTC/ETH", reason: "listed twice")),
        (document(currencies: [validCurrency, validCurrency], pairs: []), MarketError.invalidCurrency(code: "BTC", reason: "listed twice")),
        (
            document(settings: #""maxRateAgeSeconds": 0, "quoteTTLSeconds": 30, "rateTolerance": "0.005""#, pairs: []),
            MarketError.invalidSetting(name: "maxRateAgeSeconds", reason: "must be a positive number of seconds")
        ),
        (
            document(settings: #""maxRateAgeSeconds": 60, "quoteTTLSeconds": -1, "rateTolerance": "0.005""#, pairs: []),
            MarketError.invalidSetting(name: "quoteTTLSeconds", reason: "must be a positive number of seconds")
        ),
    ])
    func refusesInvalidEntriesNamingThem(json: Data, expected: MarketError) {
        #expect(throws: expected) { try Market.decode(json: json) }
    }

    /// Each of these must be refused with a message that names the entry at fault.
    @Test(arguments: [
        (document(pairs: [pair(rate: #""0""#)]), "BTC/ETH"),
        (document(pairs: [pair(rate: #""-1""#)]), "BTC/ETH"),
        (document(pairs: [pair(rate: #""1e3""#)]), "BTC/ETH"),
        (document(pairs: [pair(extra: #", "minFee": "0.000000001""#)]), "BTC/ETH"),
        (document(pairs: [pair(extra: #", "rateAsOf": "yesterday""#)]), "BTC/ETH"),
        (document(pairs: [#"{"source": "BTC", "destination": "ETH", "rate": "1", "spread": "1", "fee": "0.001"}"#]), "BTC/ETH"),
        (document(pairs: [#"{"source": "BTC", "destination": "ETH", "rate": "1", "spread": "0.1", "fee": "1.5"}"#]), "BTC/ETH"),
        (document(pairs: [#"{"source": "BTC", "destination": "ETH", "rate": "1", "spread": "0.1", "fee": "abc"}"#]), "BTC/ETH"),
        (
            document(
                currencies: [#"{"code": "BTC", "scale": 8, "crypto": true, "minAmount": "6", "maxAmount": "5", "dailyLimit": "10"}"#],
                pairs: []
            ), "BTC"
        ),
        (
            document(
                currencies: [#"{"code": "BTC", "scale": 2, "crypto": true, "minAmount": "0.001", "maxAmount": "5", "dailyLimit": "10"}"#],
                pairs: []
            ), "BTC"
        ),
        (
            document(currencies: [#"{"code": "BTC", "scale": 2, "crypto": true, "minAmount": "1", "maxAmount": "5", "dailyLimit": "x"}"#], pairs: []),
            "BTC"
        ),
        (
            document(
                currencies: [#"{"code": "BTC", "scale": 40, "crypto": true, "minAmount": "1", "maxAmount": "5", "dailyLimit": "9"}"#],
                pairs: []
            ), "BTC"
        ),
        (
            document(
                currencies: [#"{"code": "b tc", "scale": 2, "crypto": true, "minAmount": "1", "maxAmount": "5", "dailyLimit": "9"}"#],
                pairs: []
            ), "b tc"
        ),
        (document(settings: #""maxRateAgeSeconds": 60, "quoteTTLSeconds": 30, "rateTolerance": "1""#, pairs: []), "rateTolerance"),
        (document(pairs: [pair(rate: "28.2")]), "pairs[0].rate"),
        (document(pairs: [#"{"source": "BTC", "destination": "ETH", "spread": "0.1", "fee": "0.1"}"#]), "rate"),
        (Data("not json".utf8), "not JSON"),
        (Data("[]".utf8), "wrong type"),
    ])
    func refusesBadValuesWithAMessageNamingThem(json: Data, named: String) throws {
        do {
            _ = try Market.decode(json: json)
            Issue.record("decoded a bad market file")
        } catch let error as MarketError {
            #expect(error.message.contains(named), "\(error.message)")
        }
    }

    @Test func killSwitchDisablesOnlyThatPair() {
        let market = Market.defaults.withPair(usdtBTC, enabled: false)
        #expect(market.pairs[usdtBTC]?.isEnabled == false)
        #expect(market.pairs[btcUSDT]?.isEnabled == true)
        #expect(market.withPair(usdtBTC, enabled: true) == Market.defaults)
        // An unknown pair is not invented by the kill switch.
        #expect(Market.defaults.withPair(CurrencyPair(btc, "TRX"), enabled: true) == Market.defaults)
    }
}
