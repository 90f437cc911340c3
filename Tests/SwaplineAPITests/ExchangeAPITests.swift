import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineTestSupport
import Testing

@Suite("Calypso exchange API against PostgreSQL")
struct ExchangeAPITests {
    let pair = #""sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC""#

    @Test func accountShowsAvailableAndHeldBalances() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "150.25")])
            let response = try await api.call("/api/v1/account", merchant)
            #expect(response.status == 200)
            #expect(response.string("account") == merchant.account.rawValue)
            #expect(response.string("name") == "Test merchant")
            guard case .array(let balances)? = response.json["balances"] else {
                Issue.record("no balances")
                return
            }
            let usdt = balances.first { $0["currency"] == .string("USDT_TRX") }
            #expect(usdt?["amount"] == .number("150.25"))
            #expect(usdt?["held"] == .number("0.00"))
            #expect(balances.first { $0["currency"] == .string("BTC") }?["amount"] == .number("0.00000000"))
        }
    }

    @Test func pairsListsEnabledPairsBySource() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let response = try await api.call("/api/v1/exchange/pairs", merchant)
            #expect(response.status == 200)
            guard case .array(let fromUSDT)? = response.json["currencyPairs"]?["USDT_TRX"] else {
                Issue.record("no USDT_TRX pairs")
                return
            }
            let btc = fromUSDT.first { $0["name"] == .string("BTC") }
            #expect(btc?["scale"] == .number("8"))
            #expect(btc?["enabled"] == .bool(true))
            #expect(btc?["active"] == .bool(true))
        }
    }

    @Test func limitIsTheSmallestOfMaximumBalanceAndDailyLimit() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "500")])
            let response = try await api.call("/api/v1/exchange/limit", merchant, payload: "{\(pair)}")
            #expect(response.status == 200)
            #expect(response.number("minAmount") == "10.00")
            #expect(response.number("maxAmount") == "500.00")
            let unknown = try await api.call("/api/v1/exchange/limit", merchant, payload: #"{"sourceCurrency": "DOGE", "destinationCurrency": "BTC"}"#)
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == "100")
            let same = try await api.call("/api/v1/exchange/limit", merchant, payload: #"{"sourceCurrency": "BTC", "destinationCurrency": "BTC"}"#)
            #expect(same.errorCode == "100")
            let missing = try await api.call("/api/v1/exchange/limit", merchant, payload: #"{"sourceCurrency": "BTC"}"#)
            #expect(missing.errorCode == "001")
        }
    }

    @Test func preCalculateChargesTheFeeInsideTheSourceAmount() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let sell = try await api.call("/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair), \"amount\": 100}")
            #expect(sell.status == 200)
            #expect(sell.number("sourceAmount") == "100.00")
            let fee = try #require(decimal(sell.number("fee")))
            let rate = try #require(decimal(sell.number("rate")))
            let destination = try #require(decimal(sell.number("destinationAmount")))
            #expect(fee == Decimal(string: "0.1"))
            #expect(destination == ((100 - fee) * rate).rounded(scale: 8, .down))
            #expect(sell.string("quoteId").flatMap(UUID.init(uuidString:)) != nil)
            #expect(sell.string("expiresAt").flatMap(Timestamp.parse) != nil)

            let buy = try await api.call(
                "/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair), \"amount\": \"0.001\", \"direction\": \"BUY\"}")
            #expect(buy.status == 200)
            let bought = try #require(decimal(buy.number("destinationAmount")))
            #expect(bought >= Decimal(string: "0.001")!)
            #expect(buy.string("direction") == "BUY")
        }
    }

    @Test(arguments: [
        (#""amount": 0"#, "001"), (#""amount": -5"#, "001"), (#""amount": 1e3"#, "001"), (#""amount": 100.001"#, "001"),
        (#""amount": "1,000""#, "001"), (#""amount": true"#, "001"), (#""amount": "abc""#, "001"), (#""amount": 1"#, "101"),
        (#""amount": 100000000"#, "102"), (#""amount": 100, "direction": "SIDEWAYS""#, "001"), ("", "001"),
    ])
    func preCalculateRefusesBadAmounts(_ amount: String, _ code: String) async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let separator = amount.isEmpty ? "" : ", "
            let response = try await api.call("/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair)\(separator)\(amount)}")
            #expect(response.status == 400)
            #expect(response.errorCode == code)
        }
    }

    @Test func createHoldsFundsAndTheWorkerCompletesTheExchange() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "1000")])
            let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 100}")
            #expect(created.status == 200)
            #expect(created.string("state") == "IN_PROGRESS")
            let id = try #require(created.number("id"))
            #expect(try await api.balance(merchant, "USDT_TRX") == (900, 100))

            let got = try await api.call("/api/v1/exchange/get", merchant, payload: #"{"id": \#(id)}"#)
            #expect(got.status == 200)
            #expect(got.number("id") == id)

            let done = try await api.settle(merchant, id: id)
            #expect(done.string("state") == "COMPLETED")
            #expect(done.json["failureReason"] == .null)
            let destination = try #require(decimal(done.number("destinationAmount")))
            #expect(try await api.balance(merchant, "USDT_TRX") == (900, 0))
            #expect(try await api.balance(merchant, "BTC").available == destination)
        }
    }

    @Test func createAtAQuoteUsesItOnce() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let quote = try await api.call("/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair), \"amount\": 250}")
            let quoteId = try #require(quote.string("quoteId"))
            let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"quoteId\": \"\(quoteId)\"}")
            #expect(created.status == 200)
            #expect(created.number("destinationAmount") == quote.number("destinationAmount"))
            #expect(created.number("rate") == quote.number("rate"))
            let again = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"quoteId\": \"\(quoteId)\"}")
            #expect(again.errorCode == "105")

            // Another account cannot use it; an amount that differs from the quote is refused.
            let other = try await api.merchant()
            let second = try await api.call("/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair), \"amount\": 50}")
            let secondId = try #require(second.string("quoteId"))
            #expect(try await api.call("/api/v1/exchange/create", other, payload: "{\(pair), \"quoteId\": \"\(secondId)\"}").errorCode == "105")
            #expect(
                try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"quoteId\": \"\(secondId)\", \"amount\": 51}").errorCode
                    == "105")

            // An expired quote is refused.
            api.clock.advance(seconds: TimeInterval(api.market.quoteTTLSeconds + 1))
            let expired = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"quoteId\": \"\(secondId)\"}")
            #expect(expired.errorCode == "105")
            #expect(try await api.balance(merchant, "USDT_TRX").held == 250)
        }
    }

    @Test func createRefusesWhatTheAccountCannotPay() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "50")])
            let poor = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 60}")
            #expect(poor.status == 400)
            #expect(poor.errorCode == "104")
            #expect(try await api.balance(merchant, "USDT_TRX") == (50, 0))

            // BTC's daily limit is 10 in the default market: two of 5 pass, the third does not.
            let rich = try await api.merchant([("BTC", "20")])
            let btcPair = #""sourceCurrency": "BTC", "destinationCurrency": "USDT_TRX""#
            #expect(try await api.call("/api/v1/exchange/create", rich, payload: "{\(btcPair), \"amount\": 5}").status == 200)
            #expect(try await api.call("/api/v1/exchange/create", rich, payload: "{\(btcPair), \"amount\": 5}").status == 200)
            let over = try await api.call("/api/v1/exchange/create", rich, payload: "{\(btcPair), \"amount\": 1}")
            #expect(over.errorCode == "103")
            #expect(try await api.balance(rich, "BTC") == (10, 10))
        }
    }

    @Test func theSameIdempotencyKeyCreatesOneExchange() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let payload = "{\(pair), \"amount\": 100, \"idempotencyKey\": \"order-42\"}"
            let first = try await api.call("/api/v1/exchange/create", merchant, payload: payload)
            let second = try await api.call("/api/v1/exchange/create", merchant, payload: payload)
            #expect(first.status == 200)
            #expect(second.status == 200)
            #expect(first.number("id") == second.number("id"))
            #expect(first.json == second.json)
            #expect(try await api.balance(merchant, "USDT_TRX").held == 100)

            let different = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 101, \"idempotencyKey\": \"order-42\"}")
            #expect(different.errorCode == "016")

            // Concurrent retries of one key still make one exchange.
            let racing = "{\(pair), \"amount\": 10, \"idempotencyKey\": \"race\"}"
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<8 { group.addTask { try await api.call("/api/v1/exchange/create", merchant, payload: racing).number("id") } }
                return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(ids.first! != nil)
            #expect(try await api.balance(merchant, "USDT_TRX").held == 110)
        }
    }

    @Test func concurrentCreatesNeverOverdrawTheBalance() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "1000")])
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let response = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 30}")
                        return response.status == 200 ? "ok" : response.errorCode ?? "?"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            let succeeded = codes.filter { $0 == "ok" }.count
            #expect(succeeded == 33, "1000 / 30 = 33 exchanges fit")
            #expect(codes.filter { $0 != "ok" }.allSatisfy { $0 == "104" }, "\(codes)")
            let balance = try await api.balance(merchant, "USDT_TRX")
            #expect(balance.available == 1000 - Decimal(succeeded) * 30)
            #expect(balance.held == Decimal(succeeded) * 30)
        }
    }

    @Test func concurrentGetsEachAnswerTheirOwnExchange() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let other = try await api.merchant()
            var ids: [String] = []
            for amount in [100, 200, 300] {
                let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": \(amount)}")
                ids.append(try #require(created.number("id")))
            }
            // Concurrent gets share a round trip: each still gets its own exchange, and another
            // account's exchange stays as missing as none, whoever else is in the batch.
            let answers = try await withThrowingTaskGroup(of: (String, String, String?).self) { group in
                for round in 0..<4 {
                    for id in ids {
                        let asker = round == 3 ? other : merchant
                        group.addTask {
                            let response = try await api.call("/api/v1/exchange/get", asker, payload: #"{"id": \#(id)}"#)
                            return (id, asker.key, response.errorCode ?? response.number("id"))
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 12)
            for (id, key, answer) in answers {
                #expect(answer == (key == merchant.key ? id : "004"), "get \(id) by \(key)")
            }
        }
    }

    @Test func getAnswersNotFoundForMissingAndForeignExchanges() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let other = try await api.merchant()
            let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 100}")
            let id = try #require(created.number("id"))
            // Also once the owner's get has its body rendered and kept (RenderedExchangeBodies).
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"{"id": \#(id)}"#).status == 200)
            #expect(try await api.call("/api/v1/exchange/get", other, payload: #"{"id": \#(id)}"#).errorCode == "004")
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"{"id": 999999}"#).errorCode == "004")
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"{"id": "abc"}"#).errorCode == "001")
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"{"id": 1.5}"#).errorCode == "001")
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"{}"#).errorCode == "001")
            #expect(try await api.call("/api/v1/exchange/get", merchant, payload: #"[1]"#).errorCode == "001")
        }
    }
}

@Suite("Calypso authentication and bad input")
struct AuthenticationTests {
    @Test func refusesMissingOrWrongCredentials() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let body = api.body(merchant)
            let sign = CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret)
            #expect(try await api.raw("/api/v1/account", body: body, key: nil, sign: sign).errorCode == "002")
            #expect(try await api.raw("/api/v1/account", body: body, key: "0123456789abcdef0123456789abcdef", sign: sign).errorCode == "002")
            #expect(try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: nil).errorCode == "003")
            #expect(try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: String(repeating: "0", count: 128)).errorCode == "003")
            #expect(try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: "not hex").errorCode == "003")
            // The signature covers the exact bytes: one added space breaks it.
            #expect(try await api.raw("/api/v1/account", body: body + " ", key: merchant.key, sign: sign).errorCode == "003")
            let ok = try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: sign)
            #expect(ok.status == 200)
            // The same signed request again is a replay.
            let replay = try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: sign)
            #expect(replay.errorCode == "106")
        }
    }

    /// exchange/get records its requests in the statement that reads the exchange, so it is
    /// checked on its own: for an exchange found, one missing, and an id that is no id.
    @Test(arguments: [("/api/v1/account", nil), ("/api/v1/exchange/get", "found"), ("/api/v1/exchange/get", "999999"), ("/api/v1/exchange/get", "\"x\"")])
    func concurrentCopiesOfOneSignedRequestAreAcceptedOnce(path: String, id: String?) async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "1000")])
            var payload = "{}"
            if let id {
                var exchange = id
                if id == "found" {
                    let pair = #""sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC""#
                    let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 100}")
                    exchange = try #require(created.number("id"))
                }
                payload = #"{"id": \#(exchange)}"#
            }
            let body = api.body(merchant, payload: payload)
            let sign = CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret)
            // Replay records of concurrent requests are inserted together; copies of one
            // request in the same batch must still count as replays.
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await api.raw(path, body: body, key: merchant.key, sign: sign).errorCode ?? "ok" }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let first = id == "999999" ? "004" : id == "\"x\"" ? "001" : "ok"
            #expect(codes.sorted() == ["106", "106", "106", "106", "106", "106", "106", first].sorted(), "\(codes)")
        }
    }

    /// The replay guard keeps SHA-256 of `key + " " + signature`; the migration that introduced it
    /// computed the same in SQL for the rows it carried over, so a request seen just before an
    /// upgrade is still a replay after it. The upper-case copy of a signature is the same request.
    @Test func aRequestRecordedByTheMigrationsFormulaIsAReplay() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let body = api.body(merchant)
            let sign = CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret)
            try await api.database.app.query(
                "INSERT INTO seen_request_digests (digest) VALUES (sha256(convert_to(\(merchant.key) || ' ' || \(sign.lowercased()), 'UTF8')))",
                logger: api.database.logger)
            #expect(try await api.raw("/api/v1/account", body: body, key: merchant.key, sign: sign.uppercased()).errorCode == "106")
            let other = api.body(merchant)
            let fresh = try await api.raw("/api/v1/account", body: other, key: merchant.key, sign: CalypsoSignature.sign(body: Data(other.utf8), secret: merchant.secret))
            #expect(fresh.status == 200)
        }
    }

    @Test func refusesTimestampsOutsideThreeMinutes() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let now = api.timestamp()
            #expect(try await api.call("/api/v1/account", merchant, timestamp: now - 181_000).errorCode == "011")
            #expect(try await api.call("/api/v1/account", merchant, timestamp: now + 181_000).errorCode == "011")
            #expect(try await api.call("/api/v1/account", merchant, timestamp: now - 179_000).status == 200)
            #expect(try await api.call("/api/v1/account", merchant, timestamp: now + 179_000).status == 200)
        }
    }

    @Test func aRevokedKeyAndAForeignAccountAreRefused() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let other = try await api.merchant()
            var impostor = other
            impostor.account = merchant.account
            #expect(try await api.call("/api/v1/account", impostor).errorCode == "002")
            let rotated = try await api.accounts.rotateKey(account: merchant.account)
            try await api.accounts.revokeKey(merchant.key)
            #expect(try await api.call("/api/v1/account", merchant).errorCode == "002")
            var renewed = merchant
            renewed.key = rotated.key
            renewed.secret = rotated.secret
            #expect(try await api.call("/api/v1/account", renewed).status == 200)
        }
    }

    @Test(arguments: [
        "not json", "{", "[]", #"{"account": 5, "timestamp": 1}"#, #"{"timestamp": "now"}"#, #"{"timestamp": 1.5}"#, "",
    ])
    func malformedSignedBodiesAreBadRequests(_ body: String) async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let response = try await api.raw(
                "/api/v1/account", body: body, key: merchant.key, sign: CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret))
            #expect(response.status == 400)
            #expect(response.errorCode == "001" || response.errorCode == "011")
        }
    }

    @Test func wrongTypesInThePayloadAreBadRequests() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            for payload in [
                #""payload""#, #"{"sourceCurrency": 1, "destinationCurrency": "BTC", "amount": 100}"#,
                #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": ["BTC"], "amount": 100}"#,
                #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": {"value": 1}}"#,
                #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 100, "quoteId": "nope"}"#,
                #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 100, "idempotencyKey": ""}"#,
                #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 100, "idempotencyKey": "\#(String(repeating: "k", count: 65))"}"#,
                #"{"sourceCurrency": "usdt trx", "destinationCurrency": "BTC", "amount": 100}"#,
            ] {
                let response = try await api.call("/api/v1/exchange/create", merchant, payload: payload)
                #expect(response.status == 400, "\(payload)")
                #expect(response.errorCode == "001", "\(payload)")
            }
            // Nothing was held by any of them.
            #expect(try await api.balance(merchant, "USDT_TRX") == (10000, 0))
        }
    }

    @Test func hugeBodiesAndUnknownPathsGetCalypsoErrors() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let huge = api.body(merchant, payload: #"{"pad": "\#(String(repeating: "x", count: 100_000))"}"#)
            let response = try await api.raw("/api/v1/account", body: huge, key: merchant.key, sign: "00")
            #expect(response.status == 413)
            #expect(response.errorCode == "001")
            let unknown = try await api.call("/api/v1/exchange/teleport", merchant)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "004")
        }
    }
}
