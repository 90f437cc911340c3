import Foundation
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineExecution
import SwaplineProjections
import SwaplineTestSupport
import Testing

@Suite("exchange/stats against PostgreSQL")
struct ExchangeStatsTests {
    @Test func dailyFiguresPerPairWithFailureReasonsAndPercentiles() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant([("USDT_TRX", "10000")])
            let pair = #""sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC""#
            var ids: [String] = []
            for amount in ["100", "200"] {
                let created = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": \(amount)}")
                ids.append(try #require(created.number("id")))
            }
            for id in ids { _ = try await api.settle(merchant, id: id) }
            let rejected = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 50}")
            let rejectedId = try #require(rejected.number("id"))
            let rejecting = api.worker(venue: SimulatedVenue(client: api.database.app, failureRate: 1, logger: api.database.logger))
            let failed = try await api.settle(merchant, id: rejectedId, worker: rejecting)
            #expect(failed.string("state") == "FAILED")

            let runner = ProjectionRunner(projection: ExchangeStatistics(), client: api.database.app, logger: api.database.logger)
            _ = try await eventually("statistics caught up") { try await runner.runOnce() == 0 ? true : nil }

            let today = String(Timestamp.format(api.clock.now).prefix(10))
            let stats = try await api.call("/api/v1/exchange/stats", merchant, payload: #"{"from": "\#(today)", "to": "\#(today)"}"#)
            #expect(stats.status == 200)
            guard case .array(let days)? = stats.json["days"], days.count == 1 else {
                Issue.record("expected one day: \(stats.json.serialized())")
                return
            }
            let day = days[0]
            #expect(day["date"] == .string(today))
            #expect(day["count"] == .number("3"))
            #expect(day["completed"] == .number("2"))
            #expect(day["failed"] == .number("1"))
            #expect(day["sourceVolume"] == .number("300.00"))
            #expect(day["fees"] == .number("0.30"))
            #expect(day["failureReasons"]?["VENUE_REJECTED"] == .number("1"))
            let p50 = day["completionSeconds"]?["p50"]
            #expect(p50 != nil && p50 != .null)

            // Another account sees nothing; a bad range is a client error.
            let other = try await api.merchant()
            let empty = try await api.call("/api/v1/exchange/stats", other, payload: #"{"from": "\#(today)", "to": "\#(today)"}"#)
            #expect(empty.json["days"] == .array([]))
            let backwards = try await api.call("/api/v1/exchange/stats", merchant, payload: #"{"from": "2026-02-01", "to": "2026-01-01"}"#)
            #expect(backwards.errorCode == "001")
            let malformed = try await api.call("/api/v1/exchange/stats", merchant, payload: #"{"from": "Jan 1", "to": "2026-01-01"}"#)
            #expect(malformed.errorCode == "001")
        }
    }

    /// Found by hand while building `scripts/contract-test` (its date generator starts at year 1):
    /// year 0000 is a four-digit year Timestamp parses, but no PostgreSQL date, so the query failed
    /// and the client got 500 (`000`).
    @Test func yearZeroIsABadRequest() async throws {
        try await APIHarness.with { api in
            let merchant = try await api.merchant()
            for payload in [#"{"from": "0000-01-01", "to": "0000-01-02"}"#, #"{"from": "0000-12-31", "to": "0001-01-01"}"#] {
                let response = try await api.call("/api/v1/exchange/stats", merchant, payload: payload)
                #expect(response.status == 400, "\(payload)")
                #expect(response.errorCode == "001", "\(payload)")
            }
            let first = try await api.call("/api/v1/exchange/stats", merchant, payload: #"{"from": "0001-01-01", "to": "0001-01-01"}"#)
            #expect(first.status == 200)
        }
    }
}
