import Foundation
import SwaplineDomain
import Testing

@Suite struct IdentifierTests {
    @Test func accountIDIsCanonicalLowercase() throws {
        let mixed = "0xAbCdEf0123456789abcdef0123456789ABCDEF01"
        let id = try #require(AccountID(mixed))
        #expect(id.rawValue == mixed.lowercased())
        #expect(id == AccountID(mixed.lowercased()))
        #expect(id.description == mixed.lowercased())
        #expect(AccountID("0X" + String(repeating: "a", count: 40))?.rawValue == "0x" + String(repeating: "a", count: 40))
    }

    @Test(arguments: [
        "", "0x", "0x" + String(repeating: "a", count: 39), "0x" + String(repeating: "a", count: 41),
        String(repeating: "a", count: 42), "0x" + String(repeating: "g", count: 40), "1x" + String(repeating: "a", count: 40),
        " 0x" + String(repeating: "a", count: 40), "0x" + String(repeating: "a", count: 39) + "é",
    ])
    func accountIDRejectsInvalidText(text: String) {
        #expect(AccountID(text) == nil)
    }

    @Test func accountIDCodesAsPlainString() throws {
        let data = try DomainJSON.encode([alice])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(alice.rawValue)\"]")
        #expect(try DomainJSON.decode([AccountID].self, from: data) == [alice])
        #expect(throws: DecodingError.self) { try DomainJSON.decode([AccountID].self, from: Data("[\"0x12\"]".utf8)) }
        #expect(throws: DecodingError.self) { try DomainJSON.decode([AccountID].self, from: Data("[12]".utf8)) }
    }

    @Test func currencyCodesAsPlainStringAndSorts() throws {
        let data = try DomainJSON.encode([usdt, btc])
        #expect(String(decoding: data, as: UTF8.self) == "[\"USDT_TRX\",\"BTC\"]")
        #expect(try DomainJSON.decode([Currency].self, from: data) == [usdt, btc])
        #expect(throws: DecodingError.self) { try DomainJSON.decode([Currency].self, from: Data("[\"btc\"]".utf8)) }
        #expect(throws: DecodingError.self) { try DomainJSON.decode([Currency].self, from: Data("[\"\"]".utf8)) }
        #expect([usdt, eth, btc].sorted() == [btc, eth, usdt])
        #expect(usdt.description == "USDT_TRX")
        #expect(Currency("BTC") == btc)
        #expect(usdtBTC.description == "USDT_TRX/BTC")
        #expect(usdtBTC.reversed == btcUSDT)
    }
}
