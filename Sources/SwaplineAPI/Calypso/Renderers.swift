import Foundation
import SwaplineApplication
import SwaplineDomain

/// The response shapes of CALYPSO.md, with every amount a JSON number at its currency's scale.
enum Render {
    static func amount(_ value: Decimal, _ currency: Currency, _ market: Market) -> JSONValue {
        .number(value.text(scale: market.currencies[currency]?.scale ?? 8))
    }

    static func exchange(_ view: ExchangeView, market: Market) -> JSONValue {
        .object([
            ("id", .number(String(view.id))),
            ("account", .string(view.account.rawValue)),
            ("sourceCurrency", .string(view.pair.source.code)),
            ("sourceAmount", amount(view.sourceAmount, view.pair.source, market)),
            ("destinationCurrency", .string(view.pair.destination.code)),
            ("destinationAmount", amount(view.destinationAmount, view.pair.destination, market)),
            ("state", .string(view.state)),
            ("createdDate", .string(Timestamp.format(view.createdAt))),
            ("updatedDate", .string(Timestamp.format(view.updatedAt))),
            ("rate", .number(view.rate.plainText)),
            ("fee", amount(view.fee, view.pair.source, market)),
            ("direction", .string(view.direction.rawValue)),
            ("failureReason", view.failureReason.map { .string($0.rawValue) } ?? .null),
        ])
    }

    static func error(_ error: SwaplineError) -> JSONValue {
        .object([("errorCode", .string(error.code.rawValue)), ("message", .string(error.message))])
    }
}
