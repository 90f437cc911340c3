import Foundation
import SwaplineDomain
import Testing

@Suite struct AmountTests {
    @Test(arguments: [
        ("1", 2, "1"),
        ("100", 2, "100"),
        ("100.5", 2, "100.5"),
        ("100.50", 2, "100.5"),
        ("0.01", 2, "0.01"),
        ("007", 2, "7"),
        ("0.00000001", 8, "0.00000001"),
        ("123456789.12345678", 8, "123456789.12345678"),
        ("5", 0, "5"),
    ])
    func parsesValidAmounts(text: String, scale: Int, expected: String) throws {
        let value = try Amount.parse(text, scale: scale)
        #expect(value == dec(expected))
        #expect(value.plainText == expected)
    }

    @Test(arguments: [
        "", "-1", "+1", "1e5", "1E5", "1,000", "1 000", " 1", "1 ", "\t1", "1\n", "1.", ".5", ".", "1..2", "1.2.3",
        "１", "٣", "NaN", "nan", "Infinity", "0x10", "1_000", "1/2", "$1", "1a", "\u{0}1", "1.5.", "--1", "1-",
        String(repeating: "1", count: 41), "0." + String(repeating: "0", count: 39) + "1",
    ])
    func rejectsMalformedText(text: String) {
        #expect(throws: AmountError.malformed) { try Amount.parse(text, scale: 8) }
        #expect(throws: AmountError.malformed) { try Amount.parseDecimal(text) }
    }

    @Test(arguments: ["0", "0.00", "00", "0.0"])
    func rejectsZero(text: String) {
        #expect(throws: AmountError.notPositive) { try Amount.parse(text, scale: 2) }
    }

    @Test func rejectsTooManyDecimals() {
        #expect(throws: AmountError.tooManyDecimals(scale: 2)) { try Amount.parse("1.234", scale: 2) }
        // Trailing zeros count: nothing is silently dropped.
        #expect(throws: AmountError.tooManyDecimals(scale: 2)) { try Amount.parse("1.500", scale: 2) }
        #expect(throws: AmountError.tooManyDecimals(scale: 0)) { try Amount.parse("1.0", scale: 0) }
        #expect(throws: AmountError.tooManyDecimals(scale: 8)) { try Amount.parse("0.000000001", scale: 8) }
    }

    @Test func lengthLimitIsForty() throws {
        let forty = "0." + String(repeating: "0", count: 37) + "1"
        #expect(forty.count == 40)
        #expect(try Amount.parse(forty, scale: 38) == Decimal(sign: .plus, exponent: -38, significand: 1))
        #expect(throws: AmountError.malformed) { try Amount.parse(forty + "1", scale: 39) }
    }

    @Test func refusesMoreDigitsThanDecimalHoldsExactly() throws {
        let thirtyEight = String(repeating: "9", count: 38)
        #expect(try Amount.parseDecimal(thirtyEight).plainText == thirtyEight)
        #expect(throws: AmountError.malformed) { try Amount.parseDecimal(thirtyEight + "9") }
        // Zeros that carry no value do not count.
        #expect(
            try Amount.parseDecimal("0.000" + String(repeating: "9", count: 30) + "000") == Decimal(sign: .plus, exponent: -3, significand: 1)
                - Decimal(sign: .plus, exponent: -33, significand: 1)
        )
        let padded = try Amount.parseDecimal("0" + thirtyEight)
        #expect(padded.plainText == thirtyEight)
    }

    @Test func parseDecimalAllowsZeroAndAnyDecimals() throws {
        #expect(try Amount.parseDecimal("0") == 0)
        #expect(try Amount.parseDecimal("0.000") == 0)
        #expect(try Amount.parseDecimal("0.0000104") == Decimal(sign: .plus, exponent: -7, significand: 104))
        #expect(try Amount.parseDecimal("0.002").plainText == "0.002")
        #expect(throws: AmountError.malformed) { try Amount.parseDecimal("-0.002") }
    }

    @Test func parseSignedDecimalAcceptsOneLeadingMinus() throws {
        #expect(try Amount.parseSignedDecimal("-1.5") == -dec("1.5"))
        #expect(try Amount.parseSignedDecimal("1.5") == dec("1.5"))
        #expect(throws: AmountError.malformed) { try Amount.parseSignedDecimal("--1") }
        #expect(throws: AmountError.malformed) { try Amount.parseSignedDecimal("-") }
        #expect(throws: AmountError.malformed) { try Amount.parseSignedDecimal("+1") }
    }

    @Test func parsedValuesAreExact() throws {
        // 0.1 + 0.2 is the classic Double failure; exact decimals must make it 0.3.
        let sum = try Amount.parseDecimal("0.1") + Amount.parseDecimal("0.2")
        #expect(sum == dec("0.3"))
        #expect(try Amount.parse("96000.01", scale: 2) * 100 == 9_600_001)
    }
}
