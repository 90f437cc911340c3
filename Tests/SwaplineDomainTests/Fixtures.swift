import Foundation
import SwaplineDomain

/// Decimal from text: float literals would go through Double, which these tests must never touch.
func dec(_ text: String) -> Decimal {
    guard let value = try? Amount.parseSignedDecimal(text) else {
        preconditionFailure("bad decimal literal \(text)")
    }
    return value
}

/// 2026-11-25T10:00:00.000Z.
let t0 = Date(timeIntervalSince1970: 1_795_600_800)

/// `t0` plus whole seconds.
func at(_ seconds: Int) -> Date {
    t0.addingTimeInterval(TimeInterval(seconds))
}

let usdt: Currency = "USDT_TRX"
let btc: Currency = "BTC"
let eth: Currency = "ETH"
let usdtBTC = CurrencyPair(usdt, btc)
let btcUSDT = CurrencyPair(btc, usdt)

let alice = AccountID("0x" + String(repeating: "a1", count: 20))!
let bob = AccountID("0x" + String(repeating: "b2", count: 20))!

/// A small market with round numbers, so expected prices can be worked out by hand.
///
/// USDT_TRX/BTC: mid 0.0000105, spread 1 % → customer rate 0.000010395; BTC/USDT_TRX: mid 96000 → 95040.
/// Fee 0.1 %, no minimum fee. USDT_TRX: scale 2, 10…100000, daily 250000. BTC: scale 8, 0.0001…5, daily 10.
func testMarket(minFee: Decimal = 0, rateAsOf: Date? = nil) -> Market {
    Market(
        currencyList: [
            CurrencyInfo(currency: usdt, scale: 2, isCrypto: true, minAmount: 10, maxAmount: 100_000, dailyLimit: 250_000),
            CurrencyInfo(currency: btc, scale: 8, isCrypto: true, minAmount: dec("0.0001"), maxAmount: 5, dailyLimit: 10),
            CurrencyInfo(currency: eth, scale: 8, isCrypto: true, minAmount: dec("0.001"), maxAmount: 100, dailyLimit: 250),
        ],
        pairList: [
            PairRule(pair: usdtBTC, rate: dec("0.0000105"), rateAsOf: rateAsOf, spread: dec("0.01"), feeRate: dec("0.001"), minFee: minFee),
            PairRule(pair: btcUSDT, rate: 96_000, rateAsOf: rateAsOf, spread: dec("0.01"), feeRate: dec("0.001")),
        ],
        maxRateAgeSeconds: 60,
        quoteTTLSeconds: 30,
        rateTolerance: dec("0.005")
    )
}

/// A requested exchange of 100 USDT_TRX for 0.00103846 BTC (the hand-worked SELL example).
func sampleRequest(id: ExchangeID = 1042, account: AccountID = alice, quoteId: UUID? = nil) -> ExchangeRequested {
    ExchangeRequested(
        id: id,
        account: account,
        price: Price(
            pair: usdtBTC,
            direction: .sell,
            sourceAmount: dec("100.00"),
            destinationAmount: dec("0.00103846"),
            rate: dec("0.000010395"),
            fee: dec("0.10")
        ),
        quoteId: quoteId,
        requestedAt: t0
    )
}
