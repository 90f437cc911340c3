import Foundation
import SwaplineDomain
import Testing

@Suite struct EventJSONTests {
    static let quoteId = UUID(uuidString: "1B4E28BA-2FA1-11D2-883F-0016D3CCA427")!

    static let exchangeEvents: [ExchangeEvent] = [
        .requested(sampleRequest()),
        .requested(sampleRequest(id: 7, account: bob, quoteId: quoteId)),
        .quoted(ExchangeQuoted(executionRate: dec("0.000010394"), quotedAt: at(1))),
        .submitted(ExchangeSubmitted(clientOrderId: "swl-1042-1", submittedAt: t0.addingTimeInterval(2.5))),
        .completed(ExchangeCompleted(sourceAmount: dec("100.00"), destinationAmount: dec("0.00103846"), completedAt: at(3))),
        .failed(ExchangeFailed(reason: .insufficientLiquidity, detail: "venue said \"no\" / ünïcode", failedAt: at(4))),
        .failed(ExchangeFailed(reason: .pairDisabled, detail: nil, failedAt: at(4))),
    ]

    static let accountEvents: [AccountEvent] = [
        .opened(AccountOpened(account: alice, name: "Alice & Co", openedAt: t0)),
        .deposited(FundsDeposited(currency: usdt, amount: dec("10000.5"), at: at(1))),
        .withdrawn(FundsWithdrawn(currency: btc, amount: dec("0.00000001"), at: at(2))),
        .held(FundsHeld(exchangeId: 1042, currency: usdt, amount: 100, at: at(3))),
        .released(HoldReleased(exchangeId: 1042, currency: usdt, amount: 100, reason: .quoteExpired, at: at(4))),
        .released(HoldReleased(exchangeId: 1043, currency: usdt, amount: 100, reason: nil, at: at(4))),
        .settled(
            ExchangeSettled(
                exchangeId: 1044,
                sourceCurrency: usdt,
                sourceAmount: dec("96.31"),
                destinationCurrency: btc,
                destinationAmount: dec("0.0010001"),
                at: at(5)
            )
        ),
    ]

    @Test(arguments: exchangeEvents)
    func exchangeEventsRoundTrip(event: ExchangeEvent) throws {
        let data = try event.encodedData()
        let decoded = try ExchangeEvent.decode(eventType: event.eventType, schemaVersion: ExchangeEvent.schemaVersion, data: data)
        #expect(decoded == event)
        // Deterministic bytes: the hash chain depends on them.
        #expect(try decoded.encodedData() == data)
    }

    @Test(arguments: accountEvents)
    func accountEventsRoundTrip(event: AccountEvent) throws {
        let data = try event.encodedData()
        let decoded = try AccountEvent.decode(eventType: event.eventType, schemaVersion: AccountEvent.schemaVersion, data: data)
        #expect(decoded == event)
        #expect(try decoded.encodedData() == data)
    }

    @Test func eventTypesAreTheDocumentedNames() {
        #expect(Set(Self.exchangeEvents.map(\.eventType)) == Set(ExchangeEvent.eventTypes))
        #expect(ExchangeEvent.eventTypes == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted", "ExchangeFailed"])
        #expect(Set(Self.accountEvents.map(\.eventType)) == Set(AccountEvent.eventTypes))
        #expect(AccountEvent.eventTypes == ["AccountOpened", "FundsDeposited", "FundsWithdrawn", "FundsHeld", "HoldReleased", "ExchangeSettled"])
        #expect(ExchangeEvent.schemaVersion == 1)
        #expect(AccountEvent.schemaVersion == 1)
    }

    @Test func payloadsUseStringsForDecimalsAndTimestamps() throws {
        let requested = String(decoding: try ExchangeEvent.requested(sampleRequest(quoteId: Self.quoteId)).encodedData(), as: UTF8.self)
        #expect(
            requested
                == #"{"account":"\#(alice.rawValue)","id":1042,"price":{"destinationAmount":"0.00103846","direction":"SELL","fee":"0.1","pair":{"destination":"BTC","source":"USDT_TRX"},"rate":"0.000010395","sourceAmount":"100"},"quoteId":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","requestedAt":"2026-11-25T10:00:00.000Z"}"#
        )
        let withoutQuote = String(decoding: try ExchangeEvent.requested(sampleRequest()).encodedData(), as: UTF8.self)
        #expect(!withoutQuote.contains("quoteId"))
        let deposit = String(
            decoding: try AccountEvent.deposited(FundsDeposited(currency: usdt, amount: dec("10000.50"), at: at(1))).encodedData(),
            as: UTF8.self
        )
        #expect(deposit == #"{"amount":"10000.5","at":"2026-11-25T10:00:01.000Z","currency":"USDT_TRX"}"#)
        let failed = String(
            decoding: try ExchangeEvent.failed(ExchangeFailed(reason: .venueTimeout, detail: nil, failedAt: t0)).encodedData(),
            as: UTF8.self
        )
        #expect(failed == #"{"failedAt":"2026-11-25T10:00:00.000Z","reason":"VENUE_TIMEOUT"}"#)
    }

    @Test func unknownTypesAndVersionsAreRefused() {
        #expect(throws: DomainCodingError.unknownEventType("ExchangeCancelled")) {
            try ExchangeEvent.decode(eventType: "ExchangeCancelled", schemaVersion: 1, data: Data("{}".utf8))
        }
        #expect(throws: DomainCodingError.unknownEventType("FundsHeld")) {
            try ExchangeEvent.decode(eventType: "FundsHeld", schemaVersion: 1, data: Data("{}".utf8))
        }
        #expect(throws: DomainCodingError.unknownEventType("ExchangeQuoted")) {
            try AccountEvent.decode(eventType: "ExchangeQuoted", schemaVersion: 1, data: Data("{}".utf8))
        }
        #expect(throws: DomainCodingError.unsupportedSchemaVersion(eventType: "ExchangeQuoted", version: 2)) {
            try ExchangeEvent.decode(eventType: "ExchangeQuoted", schemaVersion: 2, data: Data("{}".utf8))
        }
        #expect(throws: DomainCodingError.unsupportedSchemaVersion(eventType: "FundsHeld", version: 0)) {
            try AccountEvent.decode(eventType: "FundsHeld", schemaVersion: 0, data: Data("{}".utf8))
        }
    }

    @Test(arguments: [
        #"{"amount":10000.5,"at":"2026-11-25T10:00:01.000Z","currency":"USDT_TRX"}"#,
        #"{"amount":"-5","at":"2026-11-25T10:00:01.000Z","currency":"USDT_TRX"}"#,
        #"{"amount":"1e3","at":"2026-11-25T10:00:01.000Z","currency":"USDT_TRX"}"#,
        #"{"amount":" 5","at":"2026-11-25T10:00:01.000Z","currency":"USDT_TRX"}"#,
        #"{"amount":"5","at":"2026-11-25 10:00:01","currency":"USDT_TRX"}"#,
        #"{"amount":"5","at":1795600801,"currency":"USDT_TRX"}"#,
        #"{"amount":"5","at":"2026-11-25T10:00:01.000Z","currency":"usdt"}"#,
        #"{"amount":"5","at":"2026-11-25T10:00:01.000Z"}"#,
        #"not json"#,
    ])
    func malformedPayloadsAreRefused(json: String) {
        #expect(throws: DecodingError.self) {
            try AccountEvent.decode(eventType: "FundsDeposited", schemaVersion: 1, data: Data(json.utf8))
        }
    }

    @Test func malformedExchangePayloadsAreRefused() {
        #expect(throws: DecodingError.self) {
            try ExchangeEvent.decode(
                eventType: "ExchangeFailed",
                schemaVersion: 1,
                data: Data(#"{"failedAt":"2026-11-25T10:00:00.000Z","reason":"SOMETHING"}"#.utf8)
            )
        }
        #expect(throws: DecodingError.self) {
            try ExchangeEvent.decode(
                eventType: "ExchangeQuoted",
                schemaVersion: 1,
                data: Data(#"{"executionRate":"NaN","quotedAt":"2026-11-25T10:00:00.000Z"}"#.utf8)
            )
        }
        let badAccount =
            #"{"account":"0x12","id":1,"price":{"destinationAmount":"1","direction":"SELL","fee":"0","pair":{"destination":"BTC","source":"USDT_TRX"},"rate":"1","sourceAmount":"1"},"requestedAt":"2026-11-25T10:00:00.000Z"}"#
        #expect(throws: DecodingError.self) {
            try ExchangeEvent.decode(eventType: "ExchangeRequested", schemaVersion: 1, data: Data(badAccount.utf8))
        }
    }
}
