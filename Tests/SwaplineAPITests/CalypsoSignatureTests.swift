import Foundation
import SwaplineAPI
import SwaplineApplication
import Testing

@Suite("Calypso request signature")
struct CalypsoSignatureTests {
    /// The published test vector of CALYPSO.md.
    @Test func matchesThePublishedTestVector() {
        let sign = CalypsoSignature.sign(body: Data(#"{"timestamp":1}"#.utf8), secret: "b823a6b9ea72408583cef9ec8d67fa52")
        #expect(
            sign
                == "b16e9d45f49f2069becbc4f108b237bee588cfc353fe9501df103e692acbc68d482a10d34c12bea22fedde7e28e1b8e57a6a0a373b0e9a27c5257bd8b36e13b9"
        )
        #expect(CalypsoSignature.isValid(signature: sign, body: Data(#"{"timestamp":1}"#.utf8), secret: "b823a6b9ea72408583cef9ec8d67fa52"))
        #expect(CalypsoSignature.isValid(signature: sign.uppercased(), body: Data(#"{"timestamp":1}"#.utf8), secret: "b823a6b9ea72408583cef9ec8d67fa52"))
        #expect(!CalypsoSignature.isValid(signature: sign, body: Data(#"{"timestamp":2}"#.utf8), secret: "b823a6b9ea72408583cef9ec8d67fa52"))
        #expect(!CalypsoSignature.isValid(signature: String(sign.dropLast()), body: Data(#"{"timestamp":1}"#.utf8), secret: "b823a6b9ea72408583cef9ec8d67fa52"))
    }
}

@Suite("JSON parser keeps numbers exact")
struct JSONParserTests {
    @Test func keepsNumberText() throws {
        let value = try JSONParser.parse(Array(#"{"a": 0.1, "b": [1e5, -2, "x\u00e9\n"], "c": null, "d": true}"#.utf8))
        #expect(value["a"] == .number("0.1"))
        #expect(value["b"] == .array([.number("1e5"), .number("-2"), .string("xé\n")]))
        #expect(value["c"] == .null)
        #expect(value["d"] == .bool(true))
        #expect(value.serialized() == #"{"a":0.1,"b":[1e5,-2,"xé\n"],"c":null,"d":true}"#)
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "+1", "{\"a\":1}x", "{'a':1}", "\"\u{01}\"", "{\"a\":1,\"a\":2}",
        "NaN", "[" + String(repeating: "[", count: 40) + String(repeating: "]", count: 41), "\"\\x\"", "\"\\ud800\"", "tru",
    ])
    func refusesMalformedDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
    }
}
