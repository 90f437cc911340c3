import Foundation
import SwaplineDomain
import Testing

@Suite struct PricingTests {
    let market = testMarket()

    @Test func customerRateTakesTheSpreadAndRoundsDownTo12Decimals() throws {
        #expect(try market.currentRate(usdtBTC, now: t0) == dec("0.000010395"))
        #expect(try market.currentRate(btcUSDT, now: t0) == 95_040)
        // 0.000010416666 × 0.998 = 0.000010395832668 → 0.000010395832.
        #expect(try Market.defaults.currentRate(usdtBTC, now: t0) == dec("0.000010395832"))
    }

    @Test func sellChargesTheFeeInsideTheSourceAmount() throws {
        // fee = roundUp(100 × 0.001) = 0.10; (100 − 0.10) × 0.000010395 = 0.0010384605 → 0.00103846.
        let price = try market.price(usdtBTC, amountText: "100", direction: .sell, now: t0)
        #expect(
            price
                == Price(
                    pair: usdtBTC,
                    direction: .sell,
                    sourceAmount: 100,
                    destinationAmount: dec("0.00103846"),
                    rate: dec("0.000010395"),
                    fee: dec("0.10")
                )
        )
    }

    @Test func sellRoundsTheFeeUp() throws {
        // 10.01 × 0.001 = 0.01001 → fee 0.02; 9.99 × 0.000010395 = 0.00010384605 → 0.00010384.
        let price = try market.price(usdtBTC, amountText: "10.01", direction: .sell, now: t0)
        #expect(price.fee == dec("0.02"))
        #expect(price.destinationAmount == dec("0.00010384"))
    }

    @Test func sellTheOtherWay() throws {
        // fee = 0.00001; 0.00999 × 95040 = 949.4496 → 949.44.
        let price = try market.price(btcUSDT, amountText: "0.01", direction: .sell, now: t0)
        #expect(price.sourceAmount == dec("0.01"))
        #expect(price.fee == dec("0.00001"))
        #expect(price.destinationAmount == dec("949.44"))
        #expect(price.rate == 95_040)
    }

    @Test func minimumFeeApplies() throws {
        let market = testMarket(minFee: 1)
        // max(1, 0.10) = 1; 99 × 0.000010395 = 0.001029105 → 0.00102910.
        let price = try market.price(usdtBTC, amountText: "100", direction: .sell, now: t0)
        #expect(price.fee == 1)
        #expect(price.destinationAmount == dec("0.0010291"))
        // BUY: the minimum fee sits on top of the 96.21 that buys 0.001: 97.21.
        let bought = try market.price(usdtBTC, amountText: "0.001", direction: .buy, now: t0)
        #expect(bought.sourceAmount == dec("97.21"))
        #expect(bought.fee == 1)
        #expect(bought.destinationAmount == dec("0.0010001"))
    }

    @Test func buyFindsTheSmallestSourceAmount() throws {
        // 96.30 − 0.10 = 96.20 → 0.000999999 (short); 96.31 − 0.10 = 96.21 → 0.00100010295 → 0.00100010.
        let price = try market.price(usdtBTC, amountText: "0.001", direction: .buy, now: t0)
        #expect(
            price
                == Price(
                    pair: usdtBTC,
                    direction: .buy,
                    sourceAmount: dec("96.31"),
                    destinationAmount: dec("0.0010001"),
                    rate: dec("0.000010395"),
                    fee: dec("0.10")
                )
        )
        let exact = try market.price(usdtBTC, amountText: "0.00103846", direction: .buy, now: t0)
        #expect(exact.sourceAmount == 100)
        #expect(exact.destinationAmount == dec("0.00103846"))
    }

    @Test func buyTheOtherWay() throws {
        // 0.00105325 − 0.00000106 = 0.00105219 × 95040 = 100.0001376 → 100.00; one satoshi less gives 99.99.
        let price = try market.price(btcUSDT, amountText: "100", direction: .buy, now: t0)
        #expect(price.sourceAmount == dec("0.00105325"))
        #expect(price.fee == dec("0.00000106"))
        #expect(price.destinationAmount == 100)
    }

    @Test(arguments: ["0.00011", "0.00012345", "0.001", "0.01", "0.5", "1.0123456", "1.03"])
    func buyIsMinimalAndSufficientAgainstSell(wanted: String) throws {
        let want = dec(wanted)
        let price = try market.price(usdtBTC, amountText: wanted, direction: .buy, now: t0)
        #expect(price.destinationAmount >= want)
        let sell = try market.price(usdtBTC, amountText: price.sourceAmount.text(scale: 2), direction: .sell, now: t0)
        #expect(sell.destinationAmount == price.destinationAmount)
        #expect(sell.fee == price.fee)
        let oneLess = price.sourceAmount - dec("0.01")
        let less = try market.price(usdtBTC, amountText: oneLess.text(scale: 2), direction: .sell, now: t0)
        #expect(less.destinationAmount < want)
    }

    @Test(arguments: ["50", "123.45", "1000", "99999.99"])
    func buyIsMinimalInTheDefaultMarket(wanted: String) throws {
        for pair in [btcUSDT, CurrencyPair(eth, usdt), CurrencyPair("TRX", usdt), CurrencyPair("USDC_ETH", usdt)] {
            let source = try #require(Market.defaults.currencies[pair.source])
            guard let price = try? Market.defaults.price(pair, amountText: wanted, direction: .buy, now: t0) else { continue }
            #expect(price.destinationAmount >= dec(wanted))
            let oneLess = (price.sourceAmount - source.unit).text(scale: source.scale)
            if let less = try? Market.defaults.price(pair, amountText: oneLess, direction: .sell, now: t0) {
                #expect(less.destinationAmount < dec(wanted), "\(pair) \(wanted)")
            }
        }
    }

    @Test func amountIsParsedAtTheRightScale() {
        // SELL: source scale 2; BUY: destination scale 8.
        #expect(throws: PricingError.amount(.tooManyDecimals(scale: 2))) {
            try market.price(usdtBTC, amountText: "100.001", direction: .sell, now: t0)
        }
        #expect(throws: PricingError.amount(.tooManyDecimals(scale: 8))) {
            try market.price(usdtBTC, amountText: "0.000000001", direction: .buy, now: t0)
        }
        #expect(throws: PricingError.amount(.malformed)) { try market.price(usdtBTC, amountText: "1e3", direction: .sell, now: t0) }
        #expect(throws: PricingError.amount(.notPositive)) { try market.price(usdtBTC, amountText: "0", direction: .buy, now: t0) }
    }

    @Test func limitsOfTheSourceCurrency() throws {
        #expect(throws: PricingError.belowMinimum(min: 10)) { try market.price(usdtBTC, amountText: "9.99", direction: .sell, now: t0) }
        #expect(try market.price(usdtBTC, amountText: "10", direction: .sell, now: t0).sourceAmount == 10)
        #expect(try market.price(usdtBTC, amountText: "100000", direction: .sell, now: t0).sourceAmount == 100_000)
        #expect(throws: PricingError.aboveMaximum(max: 100_000)) {
            try market.price(usdtBTC, amountText: "100000.01", direction: .sell, now: t0)
        }
        // BUY: 0.00001 BTC costs about 0.97 USDT_TRX, under the 10 minimum; 2 BTC would cost over 100000.
        #expect(throws: PricingError.belowMinimum(min: 10)) { try market.price(usdtBTC, amountText: "0.00001", direction: .buy, now: t0) }
        #expect(throws: PricingError.aboveMaximum(max: 100_000)) { try market.price(usdtBTC, amountText: "2", direction: .buy, now: t0) }
    }

    @Test func anExchangeThatDeliversNothingIsBelowMinimum() throws {
        // A 20 minimum fee eats 15 whole; the least that delivers one satoshi is 20.01.
        let market = testMarket(minFee: 20)
        #expect(throws: PricingError.belowMinimum(min: dec("20.01"))) {
            try market.price(usdtBTC, amountText: "15", direction: .sell, now: t0)
        }
        #expect(throws: PricingError.belowMinimum(min: dec("20.01"))) {
            try market.price(usdtBTC, amountText: "20", direction: .sell, now: t0)
        }
        #expect(try market.price(usdtBTC, amountText: "20.01", direction: .sell, now: t0).destinationAmount == dec("0.0000001"))
    }

    @Test func staleRateIsRefused() throws {
        let market = testMarket(rateAsOf: t0)
        #expect(try market.price(usdtBTC, amountText: "100", direction: .sell, now: at(60)).destinationAmount == dec("0.00103846"))
        #expect(throws: PricingError.rateStale(usdtBTC)) { try market.price(usdtBTC, amountText: "100", direction: .sell, now: at(61)) }
        #expect(throws: PricingError.rateStale(usdtBTC)) { try market.currentRate(usdtBTC, now: at(61)) }
        #expect(try market.currentRate(usdtBTC, now: at(60)) == dec("0.000010395"))
        // A rate without a timestamp never ages.
        #expect(try testMarket().currentRate(usdtBTC, now: at(1_000_000)) == dec("0.000010395"))
    }

    @Test func unavailablePairsAndCurrencies() {
        let disabled = market.withPair(usdtBTC, enabled: false)
        #expect(throws: PricingError.pairUnavailable(usdtBTC)) { try disabled.price(usdtBTC, amountText: "100", direction: .sell, now: t0) }
        #expect(throws: PricingError.pairUnavailable(usdtBTC)) { try disabled.currentRate(usdtBTC, now: t0) }
        let unlisted = CurrencyPair(usdt, eth)
        #expect(throws: PricingError.pairUnavailable(unlisted)) { try market.price(unlisted, amountText: "100", direction: .sell, now: t0) }
        let unknown = CurrencyPair(usdt, "XYZ")
        #expect(throws: PricingError.unknownCurrency("XYZ")) { try market.price(unknown, amountText: "100", direction: .sell, now: t0) }
        #expect(throws: PricingError.unknownCurrency("XYZ")) { try market.currentRate(CurrencyPair("XYZ", btc), now: t0) }
    }

    @Test func priceCodesDecimalsAsStrings() throws {
        let price = try market.price(usdtBTC, amountText: "100", direction: .sell, now: t0)
        let text = String(decoding: try DomainJSON.encode(price), as: UTF8.self)
        #expect(
            text
                == #"{"destinationAmount":"0.00103846","direction":"SELL","fee":"0.1","pair":{"destination":"BTC","source":"USDT_TRX"},"rate":"0.000010395","sourceAmount":"100"}"#
        )
        #expect(try DomainJSON.decode(Price.self, from: Data(text.utf8)) == price)
        let numeric = text.replacingOccurrences(of: #""fee":"0.1""#, with: #""fee":0.1"#)
        #expect(throws: DecodingError.self) { try DomainJSON.decode(Price.self, from: Data(numeric.utf8)) }
    }

    @Test func errorsHaveMessages() {
        #expect(PricingError.belowMinimum(min: 10).message == "amount is below the minimum of 10")
        #expect(PricingError.pairUnavailable(usdtBTC).message.contains("USDT_TRX/BTC"))
        #expect(PricingError.amount(.tooManyDecimals(scale: 2)).message.contains("2 decimals"))
    }
}
