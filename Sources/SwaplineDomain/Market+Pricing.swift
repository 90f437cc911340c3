import Foundation

extension Market {
    /// Prices an exchange of `amountText` on `pair` at `now`.
    ///
    /// `amountText` is parsed with `Amount.parse` at the source scale (`SELL`: the amount sold) or the
    /// destination scale (`BUY`: the amount wanted). The customer rate is `mid × (1 − spread)` rounded
    /// down to 12 decimals; the fee is `max(minFee, roundUp(sourceAmount × feeRate))` at the source
    /// scale, inside `sourceAmount`; `destinationAmount = roundDown((sourceAmount − fee) × rate)` at the
    /// destination scale. Rounding always favours the house, by at most one unit of the last place.
    ///
    /// For `BUY` the result is the **smallest** `sourceAmount` at the source scale whose
    /// `destinationAmount` reaches the amount wanted, so `destinationAmount ≥ amount`.
    ///
    /// Limits (`belowMinimum`, `aboveMaximum`) are the source currency's per-exchange limits; account
    /// balance and daily limit are the account's business (`AccountState.limits`, `Account.decide`).
    public func price(_ pair: CurrencyPair, amountText: String, direction: Direction, now: Date) throws(PricingError) -> Price {
        let (rule, source, destination) = try tradable(pair, now: now)
        let rate = rule.customerRate
        let sourceAmount: Decimal
        switch direction {
        case .sell:
            do {
                sourceAmount = try Amount.parse(amountText, scale: source.scale)
            } catch {
                throw .amount(error)
            }
        case .buy:
            let wanted: Decimal
            do {
                wanted = try Amount.parse(amountText, scale: destination.scale)
            } catch {
                throw .amount(error)
            }
            guard let smallest = smallestSourceAmount(delivering: wanted, rule: rule, rate: rate, source: source, destination: destination)
            else {
                throw .aboveMaximum(max: source.maxAmount)
            }
            sourceAmount = smallest
        }
        guard sourceAmount >= source.minAmount else { throw .belowMinimum(min: source.minAmount) }
        guard sourceAmount <= source.maxAmount else { throw .aboveMaximum(max: source.maxAmount) }

        let fee = self.fee(sourceAmount, rule: rule, source: source)
        let destinationAmount = Self.destinationAmount(sourceAmount, fee: fee, rate: rate, destination: destination)
        guard destinationAmount > 0 else {
            // The fee ate the whole amount, or the result is below one unit of the destination:
            // the minimum that actually delivers something is what the caller needs to know.
            let unit = destination.unit
            let useful = smallestSourceAmount(delivering: unit, rule: rule, rate: rate, source: source, destination: destination)
            throw .belowMinimum(min: max(source.minAmount, useful ?? source.maxAmount))
        }
        return Price(pair: pair, direction: direction, sourceAmount: sourceAmount, destinationAmount: destinationAmount, rate: rate, fee: fee)
    }

    /// The customer rate of `pair` at `now` (spread applied), after the same availability and age checks as `price`.
    public func currentRate(_ pair: CurrencyPair, now: Date) throws(PricingError) -> Decimal {
        try tradable(pair, now: now).rule.customerRate
    }

    /// The fee for selling `sourceAmount` on `pair`, in the source currency; for re-pricing at execution.
    public func fee(_ pair: CurrencyPair, sourceAmount: Decimal) throws(PricingError) -> Decimal {
        guard let source = currencies[pair.source] else { throw .unknownCurrency(pair.source) }
        guard let rule = pairs[pair] else { throw .pairUnavailable(pair) }
        return fee(sourceAmount, rule: rule, source: source)
    }

    /// The rule and both currencies of a pair that may trade now, or why it may not.
    func tradable(_ pair: CurrencyPair, now: Date) throws(PricingError) -> (rule: PairRule, source: CurrencyInfo, destination: CurrencyInfo) {
        guard let source = currencies[pair.source] else { throw .unknownCurrency(pair.source) }
        guard let destination = currencies[pair.destination] else { throw .unknownCurrency(pair.destination) }
        guard let rule = pairs[pair], rule.isEnabled else { throw .pairUnavailable(pair) }
        if let asOf = rule.rateAsOf, now.timeIntervalSince(asOf) > TimeInterval(maxRateAgeSeconds) {
            throw .rateStale(pair)
        }
        return (rule, source, destination)
    }

    private func fee(_ sourceAmount: Decimal, rule: PairRule, source: CurrencyInfo) -> Decimal {
        max(rule.minFee, (sourceAmount * rule.feeRate).rounded(scale: source.scale, .up))
    }

    private static func destinationAmount(_ sourceAmount: Decimal, fee: Decimal, rate: Decimal, destination: CurrencyInfo) -> Decimal {
        ((sourceAmount - fee) * rate).rounded(scale: destination.scale, .down)
    }

    /// The smallest source amount (a whole number of source units, at most `maxAmount`) whose
    /// destination amount reaches `wanted`, or nil if even `maxAmount` falls short.
    ///
    /// The destination amount never decreases as the source amount grows (the fee grows by less
    /// than the amount), so a bisection over unit counts finds the exact minimum; the closed-form
    /// estimate usually lands within a unit, which the two probes around it confirm at once.
    private func smallestSourceAmount(
        delivering wanted: Decimal,
        rule: PairRule,
        rate: Decimal,
        source: CurrencyInfo,
        destination: CurrencyInfo
    ) -> Decimal? {
        guard rate > 0 else { return nil }
        let unit = source.unit
        func delivers(_ units: Decimal) -> Bool {
            let amount = units * unit
            let fee = fee(amount, rule: rule, source: source)
            return Self.destinationAmount(amount, fee: fee, rate: rate, destination: destination) >= wanted
        }
        // Invariant: `low` units deliver too little, `high` units deliver enough.
        var low = Decimal(0)
        var high = (source.maxAmount / unit).rounded(scale: 0, .down)
        guard delivers(high) else { return nil }

        let proportional = wanted / rate / (1 - rule.feeRate)
        let estimate = (max(proportional, wanted / rate + rule.minFee) / unit).rounded(scale: 0, .up)
        if estimate > low && estimate < high {
            if delivers(estimate) {
                if !delivers(estimate - 1) { return estimate * unit }
                high = estimate - 1
            } else {
                if delivers(estimate + 1) { return (estimate + 1) * unit }
                low = estimate + 1
            }
        }
        // At most ~130 halvings for any Decimal range, and far fewer in practice.
        while high - low > 1 {
            let middle = ((low + high) / 2).rounded(scale: 0, .down)
            if delivers(middle) {
                high = middle
            } else {
                low = middle
            }
        }
        return high * unit
    }
}
