import Foundation
import SwaplineDomain
import Testing

@Suite struct DecimalMoneyTests {
    @Test func roundsTowardAndAwayFromZero() {
        #expect(dec("1.239").rounded(scale: 2, .down) == dec("1.23"))
        #expect(dec("1.231").rounded(scale: 2, .up) == dec("1.24"))
        #expect(dec("-1.239").rounded(scale: 2, .down) == dec("-1.23"))
        #expect(dec("-1.231").rounded(scale: 2, .up) == dec("-1.24"))
        #expect(dec("1.23").rounded(scale: 2, .up) == dec("1.23"))
        #expect(dec("1.23").rounded(scale: 2, .down) == dec("1.23"))
        #expect(dec("0.000000001").rounded(scale: 8, .up) == dec("0.00000001"))
        #expect(dec("0.999999999").rounded(scale: 8, .down) == dec("0.99999999"))
        #expect(dec("12.5").rounded(scale: 0, .down) == 12)
        #expect(dec("12.5").rounded(scale: 0, .up) == 13)
        #expect((Decimal(1) / 96_000).rounded(scale: 12, .down) == dec("0.000010416666"))
    }

    @Test(arguments: [
        ("100", 2, "100.00"),
        ("0.00104", 8, "0.00104000"),
        ("-1.5", 2, "-1.50"),
        ("1.239", 2, "1.23"),
        ("-1.239", 2, "-1.23"),
        ("-0.001", 2, "0.00"),
        ("0", 2, "0.00"),
        ("5", 0, "5"),
        ("5.9", 0, "5"),
        ("0.0000104", 7, "0.0000104"),
        ("100000000000000000000", 2, "100000000000000000000.00"),
        ("0.000000000000000000000000000001", 30, "0.000000000000000000000000000001"),
    ])
    func writesTextAtScale(value: String, scale: Int, expected: String) {
        #expect(dec(value).text(scale: scale) == expected)
    }

    @Test func plainTextIsMinimalAndNeverExponent() throws {
        #expect(try Amount.parseDecimal("1.500").plainText == "1.5")
        #expect(try Amount.parseDecimal("100.00").plainText == "100")
        #expect(try Amount.parseDecimal("0.0000104").plainText == "0.0000104")
        #expect(Decimal(sign: .plus, exponent: 20, significand: 1).plainText == "100000000000000000000")
        #expect(Decimal(sign: .plus, exponent: -20, significand: 1).plainText == "0.00000000000000000001")
        #expect((-dec("2.50")).plainText == "-2.5")
        #expect(Decimal(0).plainText == "0")
        #expect(!(Decimal(1) / 3).plainText.contains("e"))
    }

    @Test func textReadsBackExactly() throws {
        let values = ["0.01", "96000", "0.000010416666", "123456789.87654321", "999999999999999999999999999999.99"]
        for text in values {
            let value = try Amount.parseDecimal(text)
            #expect(try Amount.parseDecimal(value.plainText) == value)
            #expect(try Amount.parseDecimal(value.text(scale: 2)) == value.rounded(scale: 2, .down))
        }
    }
}
