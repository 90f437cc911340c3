import Foundation
import SwaplineDomain

extension ExchangeView {
    /// The exchange object of CALYPSO.md, every amount a JSON number at its currency's scale. The
    /// API answers with it and webhooks carry it as their `data`, so both always agree.
    public func json(market: Market) -> JSONValue {
        .object([
            ("id", .number(String(id))),
            ("account", .string(account.rawValue)),
            ("sourceCurrency", .string(pair.source.code)),
            ("sourceAmount", Self.amount(sourceAmount, pair.source, market)),
            ("destinationCurrency", .string(pair.destination.code)),
            ("destinationAmount", Self.amount(destinationAmount, pair.destination, market)),
            ("state", .string(state)),
            ("createdDate", .string(Timestamp.format(createdAt))),
            ("updatedDate", .string(Timestamp.format(updatedAt))),
            ("rate", .number(rate.plainText)),
            ("fee", Self.amount(fee, pair.source, market)),
            ("direction", .string(direction.rawValue)),
            ("failureReason", failureReason.map { .string($0.rawValue) } ?? .null),
        ])
    }

    /// An amount at its currency's scale (8 for a currency the market no longer lists).
    public static func amount(_ value: Decimal, _ currency: Currency, _ market: Market) -> JSONValue {
        .number(value.text(scale: market.currencies[currency]?.scale ?? 8))
    }
}
