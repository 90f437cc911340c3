import Foundation

/// Why a piece of text is not an acceptable amount.
public enum AmountError: Error, Equatable, Sendable {
    /// Not in the amount grammar (sign, exponent, whitespace, separators, garbage, too long).
    case malformed
    /// Zero, where only a positive amount makes sense.
    case notPositive
    /// More decimals than the currency carries; trailing zeros count, so nothing is silently dropped.
    case tooManyDecimals(scale: Int)
}

/// The one strict amount parser, shared by the API, the CLI and configuration.
///
/// It is deliberately narrower than `Decimal(string:)`, which accepts signs, exponents, leading
/// whitespace and trailing garbage, and never goes through `Double`, so every accepted text maps
/// to exactly one `Decimal` with no rounding.
public enum Amount {
    /// Longest text accepted; long enough for any real amount, short enough to bound the work.
    public static let maxLength = 40

    /// Most significant digits a `Decimal` holds exactly (its mantissa is 128 bits).
    static let maxSignificantDigits = 38

    /// Parses a positive amount with at most `scale` decimals.
    ///
    /// Grammar: one or more ASCII digits, optionally `.` followed by one or more digits.
    /// `"1.500"` at scale 2 is `tooManyDecimals`, `"0.00"` is `notPositive`.
    public static func parse(_ text: String, scale: Int) throws(AmountError) -> Decimal {
        let parsed = try lex(text)
        guard parsed.fractionDigits <= scale else { throw .tooManyDecimals(scale: scale) }
        guard parsed.value > 0 else { throw .notPositive }
        return parsed.value
    }

    /// Parses a non-negative decimal with any number of decimals, for rates, fees and configuration.
    ///
    /// Same grammar as `parse(_:scale:)`: no sign, no exponent, zero allowed.
    public static func parseDecimal(_ text: String) throws(AmountError) -> Decimal {
        try lex(text).value
    }

    /// Parses a decimal that may carry a leading `-`, for the few values that can be negative.
    public static func parseSignedDecimal(_ text: String) throws(AmountError) -> Decimal {
        guard text.utf8.first == UInt8(ascii: "-") else { return try parseDecimal(text) }
        let magnitude = try parseDecimal(String(text.dropFirst()))
        return -magnitude
    }

    private static func lex(_ text: String) throws(AmountError) -> (value: Decimal, fractionDigits: Int) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { throw .malformed }
        let zero = UInt8(ascii: "0")
        let nine = UInt8(ascii: "9")
        let dot = UInt8(ascii: ".")

        var integerDigits: [UInt8] = []
        var fractionDigits: [UInt8] = []
        var seenDot = false
        for byte in bytes {
            if byte == dot {
                guard !seenDot else { throw .malformed }
                seenDot = true
            } else if byte >= zero && byte <= nine {
                if seenDot {
                    fractionDigits.append(byte - zero)
                } else {
                    integerDigits.append(byte - zero)
                }
            } else {
                throw .malformed
            }
        }
        guard !integerDigits.isEmpty else { throw .malformed }
        guard !seenDot || !fractionDigits.isEmpty else { throw .malformed }

        // Leading zeros and trailing fraction zeros carry no value, so they do not count against
        // the digits a Decimal holds exactly.
        var significantFraction = fractionDigits[...]
        while significantFraction.last == 0 {
            significantFraction = significantFraction.dropLast()
        }
        let digits = (integerDigits + significantFraction).drop { $0 == 0 }
        guard !digits.isEmpty else { return (0, fractionDigits.count) }
        guard digits.count <= maxSignificantDigits else { throw .malformed }

        var significand = Decimal(0)
        for digit in digits {
            significand = significand * 10 + Decimal(Int(digit))
        }
        let value = Decimal(sign: .plus, exponent: -significantFraction.count, significand: significand)
        return (value, fractionDigits.count)
    }
}
