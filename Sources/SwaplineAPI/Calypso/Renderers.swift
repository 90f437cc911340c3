import Foundation
import SwaplineApplication
import SwaplineDomain

/// The response shapes of CALYPSO.md, with every amount a JSON number at its currency's scale.
enum Render {
    static func amount(_ value: Decimal, _ currency: Currency, _ market: Market) -> JSONValue {
        .number(value.text(scale: market.currencies[currency]?.scale ?? 8))
    }

    static func exchange(_ state: ExchangeState, market: Market) -> JSONValue {
        let price = state.request.price
        let completed = state.completed
        return .object([
            ("id", .number(String(state.id))),
            ("account", .string(state.request.account.rawValue)),
            ("sourceCurrency", .string(price.pair.source.code)),
            ("sourceAmount", amount(completed?.sourceAmount ?? price.sourceAmount, price.pair.source, market)),
            ("destinationCurrency", .string(price.pair.destination.code)),
            ("destinationAmount", amount(completed?.destinationAmount ?? price.destinationAmount, price.pair.destination, market)),
            ("state", .string(state.status.publicState)),
            ("createdDate", .string(Timestamp.format(state.request.requestedAt))),
            ("updatedDate", .string(Timestamp.format(state.updatedAt))),
            ("rate", .number(price.rate.plainText)),
            ("fee", amount(price.fee, price.pair.source, market)),
            ("direction", .string(price.direction.rawValue)),
            ("failureReason", state.failureReason.map { .string($0.rawValue) } ?? .null),
        ])
    }

    static func error(_ error: SwaplineError) -> JSONValue {
        .object([("errorCode", .string(error.code.rawValue)), ("message", .string(error.message))])
    }
}
