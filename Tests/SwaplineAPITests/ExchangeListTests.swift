import Foundation
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import Testing

@Suite("exchange/list against PostgreSQL")
struct ExchangeListTests {
    let pair = #""sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC""#

    func ids(_ response: APIResponse) -> [String] {
        guard case .array(let exchanges)? = response.json["exchanges"] else { return [] }
        return exchanges.compactMap { exchange in
            if case .number(let id)? = exchange["id"] { return id }
            return nil
        }
    }

    func create(_ api: APIHarness, _ merchant: Merchant, amount: Int = 20) async throws -> String {
        let response = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": \(amount)}")
        return try #require(response.number("id"))
    }

    /// Follows nextCursor to the end.
    func allPages(_ api: APIHarness, _ merchant: Merchant, filter: String = "", limit: Int) async throws -> [String] {
        var seen: [String] = []
        var cursor: String?
        for _ in 0..<100 {
            let cursorMember = cursor.map { #", "cursor": "\#($0)""# } ?? ""
            let response = try await api.call(
                "/api/v1/exchange/list", merchant, payload: #"{"limit": \#(limit)\#(cursorMember)\#(filter)}"#)
            #expect(response.status == 200)
            seen += ids(response)
            guard case .string(let next)? = response.json["nextCursor"] else { return seen }
            cursor = next
        }
        Issue.record("pagination did not end")
        return seen
    }

    @Test func pagesReturnEveryExchangeOnceNewestFirst() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            var created: [String] = []
            for _ in 0..<7 {
                created.append(try await create(api, merchant))
                api.clock.advance(seconds: 1)
            }
            let paged = try await allPages(api, merchant, limit: 3)
            #expect(paged == created.reversed())
            // Another account sees none of them.
            let other = try await api.merchant()
            #expect(try await allPages(api, other, limit: 3).isEmpty)
        }
    }

    @Test func paginationUnderConcurrentInsertsNeverRepeatsOrLosesAnExchange() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            var before: [String] = []
            for _ in 0..<12 { before.append(try await create(api, merchant, amount: 10)) }
            async let inserted: [String] = {
                var ids: [String] = []
                for _ in 0..<12 { ids.append(try await create(api, merchant, amount: 10)) }
                return ids
            }()
            let paged = try await allPages(api, merchant, limit: 2)
            let during = try await inserted
            #expect(Set(paged).count == paged.count, "no exchange twice")
            #expect(Set(before).isSubset(of: Set(paged)), "every exchange that existed is listed")
            #expect(Set(paged).isSubset(of: Set(before + during)))
        }
    }

    @Test func filtersByStatePairAndCreationTime() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "10000"), ("BTC", "1")])
            let early = try await create(api, merchant)
            api.clock.advance(seconds: 3600)
            let late = try await create(api, merchant)
            let btc = try await api.call(
                "/api/v1/exchange/create", merchant, payload: #"{"sourceCurrency": "BTC", "destinationCurrency": "ETH", "amount": 0.01}"#)
            let btcId = try #require(btc.number("id"))
            let completed = try await api.settle(merchant, id: early)
            #expect(completed.string("state") == "COMPLETED")

            let byPair = try await allPages(api, merchant, filter: #", "sourceCurrency": "BTC""#, limit: 10)
            #expect(byPair == [btcId])
            let byState = try await allPages(api, merchant, filter: #", "state": "COMPLETED""#, limit: 10)
            #expect(Set(byState).contains(early))
            let from = Timestamp.format(api.clock.now.addingTimeInterval(-60))
            let recent = try await allPages(api, merchant, filter: #", "createdFrom": "\#(from)""#, limit: 10)
            #expect(Set(recent) == Set([late, btcId]))
            let until = try await allPages(api, merchant, filter: #", "createdTo": "\#(from)""#, limit: 10)
            #expect(until == [early])
        }
    }

    @Test(arguments: [
        #"{"limit": 0}"#, #"{"limit": 501}"#, #"{"limit": "ten"}"#, #"{"cursor": "garbage!"}"#, #"{"state": "DONE"}"#,
        #"{"createdFrom": "yesterday"}"#, #"{"sourceCurrency": "DOGE"}"#,
    ])
    func badListRequestsAreClientErrors(_ payload: String) async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let response = try await api.call("/api/v1/exchange/list", merchant, payload: payload)
            #expect(response.status == 400)
            #expect(response.errorCode == "001" || response.errorCode == "100")
        }
    }

    /// Found by `scripts/contract-test`: a null optional filter is absent, as a null payload is `{}`.
    /// `createdFrom: null` was accepted while `sourceCurrency: null` was refused with `001`
    /// ("payload.sourceCurrency is required"), in list and stats alike.
    @Test func nullOptionalFiltersAreAbsent() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            let created = try await api.call(
                "/api/v1/exchange/create", merchant, payload: #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 100}"#)
            #expect(created.status == 200)
            let list = try await api.call(
                "/api/v1/exchange/list", merchant,
                payload: #"{"state": null, "sourceCurrency": null, "destinationCurrency": null, "createdFrom": null, "createdTo": null, "cursor": null, "limit": null}"#)
            #expect(list.status == 200)
            guard case .array(let exchanges)? = list.json["exchanges"] else {
                Issue.record("no exchanges: \(list.json.serialized())")
                return
            }
            #expect(exchanges.count == 1)
            let today = String(Timestamp.format(api.clock.now).prefix(10))
            let stats = try await api.call(
                "/api/v1/exchange/stats", merchant,
                payload: #"{"from": "\#(today)", "to": "\#(today)", "sourceCurrency": null, "destinationCurrency": null}"#)
            #expect(stats.status == 200, "\(stats.json.serialized())")
        }
    }
}
