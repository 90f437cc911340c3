import Foundation

/// Direction in which an amount is rounded to a scale.
public enum RoundingMode: Sendable {
    /// Toward zero: what the house pays out is never more than earned.
    case down
    /// Away from zero: what the house charges is never less than due.
    case up
}

extension Decimal {
    /// This value rounded to `scale` decimals, toward zero (`.down`) or away from zero (`.up`).
    ///
    /// `NSDecimalRound`'s own `.down`/`.up` round toward −∞/+∞, so the magnitude is rounded and
    /// the sign put back: money rounding must treat a debit and a credit symmetrically.
    public func rounded(scale: Int, _ mode: RoundingMode) -> Decimal {
        let negative = self < 0
        var magnitude = negative ? -self : self
        var result = Decimal()
        NSDecimalRound(&result, &magnitude, scale, mode == .down ? .down : .up)
        return negative ? -result : result
    }

    /// Exact plain text with exactly `scale` decimals (`100` → `"100.00"`), never exponent notation.
    ///
    /// A value with more decimals is rounded toward zero first, so the text never overstates it.
    public func text(scale: Int) -> String {
        let plain = rounded(scale: scale, .down).plainText
        var sign = ""
        var body = Substring(plain)
        if body.hasPrefix("-") {
            sign = "-"
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard scale > 0 else { return sign + integer }
        return sign + integer + "." + fraction + String(repeating: "0", count: max(0, scale - fraction.count))
    }

    /// Exact minimal plain text: no exponent, no trailing zeros (`"0.0000104"`, `"100"`, `"-1.5"`).
    ///
    /// This is the form events and the market file store, so a value reads back bit for bit.
    public var plainText: String {
        if isNaN { return "NaN" }
        let raw = description
        // Foundation already writes plain digits; normalising here keeps the format ours even if
        // its description ever changes, and `-0` never reaches a document.
        var sign = ""
        var body = Substring(raw)
        if body.hasPrefix("-") {
            sign = "-"
            body = body.dropFirst()
        }
        if body.contains(".") {
            while body.hasSuffix("0") { body = body.dropLast() }
            if body.hasSuffix(".") { body = body.dropLast() }
        }
        if body.isEmpty || body == "0" { return "0" }
        return sign + body
    }
}
