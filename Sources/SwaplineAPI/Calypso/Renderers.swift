import Foundation
import SwaplineApplication
import SwaplineDomain

/// The response shapes of CALYPSO.md, with every amount a JSON number at its currency's scale.
enum Render {
    static func amount(_ value: Decimal, _ currency: Currency, _ market: Market) -> JSONValue {
        ExchangeView.amount(value, currency, market)
    }

    static func exchange(_ view: ExchangeView, market: Market) -> JSONValue { view.json(market: market) }

    static func error(_ error: SwaplineError) -> JSONValue {
        .object([("errorCode", .string(error.code.rawValue)), ("message", .string(error.message))])
    }
}
