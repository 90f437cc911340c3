import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineAudit
import SwaplineDomain
import SwaplineEventStore
import SwaplineTestSupport
import Testing

@Suite("audit history, as-of and export")
struct ReplayTests {
    @Test func theHistoryOfACompletedExchangeShowsEachStateInGlobalOrder() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let price = history.completed.request.price
            let story = try await harness.audit.history(of: history.completed.id)
            #expect(story.account == history.account)
            let types = story.entries.map(\.event.eventType)
            #expect(types == ["ExchangeRequested", "FundsHeld", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted", "ExchangeSettled"])
            let positions = story.entries.map(\.event.globalPosition)
            #expect(positions == positions.sorted())
            let streams = story.entries.map(\.event.streamId)
            #expect(streams == [history.completedStream, history.accountStream, history.completedStream, history.completedStream, history.completedStream, history.accountStream])

            let states = story.entries.map(\.state)
            guard case .exchange(let requested) = states[0], case .account(let held) = states[1],
                case .exchange(let quoted) = states[2], case .exchange(let completed) = states[4], case .account(let settled) = states[5]
            else {
                Issue.record("unexpected state kinds \(states)")
                return
            }
            #expect(requested.publicState == "IN_PROGRESS")
            #expect(requested.status == .requested)
            #expect(requested.sourceAmount == dec("100"))
            #expect(requested.destinationAmount == price.destinationAmount)
            // 1000 + 500 − 50 deposited, 100 held by this exchange.
            #expect(held.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1350"), held: dec("100")))
            #expect(held.balance(btc) == BalanceSnapshot(currency: btc, available: 0, held: 0))
            #expect(held.openHolds == [history.completed.id])
            #expect(quoted.status == .quoted)
            #expect(quoted.executionRate != nil)
            #expect(completed.publicState == "COMPLETED")
            #expect(completed.settledSourceAmount == price.sourceAmount)
            #expect(completed.settledDestinationAmount == price.destinationAmount)
            #expect(settled.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1350"), held: 0))
            #expect(settled.balance(btc) == BalanceSnapshot(currency: btc, available: price.destinationAmount, held: 0))
            #expect(story.final.publicState == "COMPLETED")
        }
    }

    @Test func theHistoryOfAFailedExchangeShowsTheReleasedHold() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let story = try await harness.audit.history(of: history.failed.id)
            let types = story.entries.map(\.event.eventType)
            #expect(types == ["ExchangeRequested", "FundsHeld", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeFailed", "HoldReleased"])
            guard case .account(let held) = story.entries[1].state, case .exchange(let failed) = story.entries[4].state,
                case .account(let released) = story.entries[5].state
            else {
                Issue.record("unexpected state kinds")
                return
            }
            // The completed exchange already took 100 out; this one holds another 100, then gives it back.
            #expect(held.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1250"), held: dec("100")))
            #expect(failed.publicState == "FAILED")
            #expect(failed.failureReason == .venueRejected)
            #expect(failed.settledDestinationAmount == nil)
            #expect(released.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1350"), held: 0))
            #expect(released.openHolds == [])
            #expect(story.final.failureReason == .venueRejected)

            // The completed exchange's settlement is not part of this story.
            let mentionsOther = story.entries.contains { $0.event.data.contains("\"exchangeId\": \(history.completed.id)") }
            #expect(!mentionsOther)
            let json = String(decoding: try JSONEncoder().encode(story), as: UTF8.self)
            #expect(json.contains("\"failureReason\":\"VENUE_REJECTED\""))
            #expect(json.contains("\"available\":\"1350\""))
        }
    }

    @Test func asOfAVersionOrATimeReplaysUpToThatPoint() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let before = Date().addingTimeInterval(-60)
            let history = try await harness.buildHistory()

            let first = try await harness.audit.asOf(.exchange(history.completed.id), .version(1))
            guard case .exchange(let requested)? = first.state else {
                Issue.record("no exchange state at version 1")
                return
            }
            #expect(requested.status == .requested)
            #expect(requested.publicState == "IN_PROGRESS")
            #expect(first.version == 1)
            #expect(first.latestVersion == 4)

            let beyond = try await harness.audit.asOf(.exchange(history.completed.id), .version(99))
            guard case .exchange(let completed)? = beyond.state else {
                Issue.record("no exchange state at version 99")
                return
            }
            #expect(completed.publicState == "COMPLETED")
            #expect(beyond.version == 4)

            let early = try await harness.audit.asOf(.exchange(history.completed.id), .at(before))
            #expect(early.state == nil)
            #expect(early.version == 0)

            // After the two deposits only.
            let deposits = try await harness.audit.asOf(.account(history.account), .version(3))
            guard case .account(let funded)? = deposits.state else {
                Issue.record("no account state at version 3")
                return
            }
            #expect(funded.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1500"), held: 0))

            // At the exact (microsecond) time history prints for the completed exchange's hold.
            let story = try await harness.audit.history(of: history.completed.id)
            let hold = story.entries[1].event
            #expect(hold.eventType == "FundsHeld")
            let atHold = try await harness.audit.asOf(.account(history.account), try #require(AuditPoint.parse(hold.recordedAt)))
            #expect(atHold.version == hold.streamVersion)
            guard case .account(let holding)? = atHold.state else {
                Issue.record("no account state at the hold")
                return
            }
            #expect(holding.balance(usdt) == BalanceSnapshot(currency: usdt, available: dec("1350"), held: dec("100")))
            #expect(holding.balance(btc) == BalanceSnapshot(currency: btc, available: 0, held: 0))

            var missing: AuditError?
            do {
                _ = try await harness.audit.asOf(.exchange(999_999), .version(1))
            } catch let error as AuditError {
                missing = error
            }
            #expect(missing == .streamNotFound("exchange-999999"))
        }
    }

    @Test func subjectsAndPointsParseFromCommandLineText() throws {
        #expect(AuditPoint.parse("3") == .version(3))
        #expect(AuditPoint.parse("2026-01-02T03:04:05.123456Z") == .time("2026-01-02T03:04:05.123456Z"))
        #expect(AuditPoint.parse("2026-01-02T03:04:05+02:00") == .time("2026-01-02T03:04:05+02:00"))
        #expect(AuditPoint.parse("0") == nil)
        #expect(AuditPoint.parse("yesterday") == nil)
        #expect(AuditPoint.parse("2026-13-01T00:00:00Z") == nil)
        let account = "0x" + String(repeating: "ab", count: 20)
        #expect(AuditSubject.parse(account) == .account(try #require(AccountID(account))))
        #expect(AuditSubject.parse("42") == .exchange(42))
        #expect(AuditSubject.parse("-1") == nil)
        #expect(AuditSubject.parse("0xnothex") == nil)
    }

    @Test func exportStreamsEveryEventInGlobalOrderWithItsHash() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let collected = Lines()
            let count = try await harness.audit.export { await collected.append($0) }
            let lines = await collected.lines
            #expect(count == lines.count)
            #expect(count == (try await harness.eventCount()))

            var positions: [Int64] = []
            for line in lines {
                #expect(!line.contains("\n"))
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let keys = Set(object.keys)
                #expect(
                    keys == [
                        "global_position", "transaction_id", "stream_id", "stream_version", "event_id", "event_type", "schema_version", "data",
                        "metadata", "recorded_at", "prev_hash", "hash",
                    ])
                let position = try #require(object["global_position"] as? Int64 ?? (object["global_position"] as? Int).map(Int64.init))
                positions.append(position)
                let stored = try await harness.scalar(
                    "SELECT encode(hash, 'hex') || ' ' || data::text FROM events WHERE global_position = \(position)", as: String.self)
                let exported = "\(object["hash"] as? String ?? "") \(object["data"] as? String ?? "")"
                #expect(exported == stored)
            }
            #expect(positions == positions.sorted())

            let oneStream = Lines()
            let streamCount = try await harness.audit.export(stream: history.completedStream) { await oneStream.append($0) }
            #expect(streamCount == 4)
            let streamLines = await oneStream.lines
            let allOfStream = streamLines.allSatisfy { $0.contains("\"stream_id\":\"\(history.completedStream)\"") }
            #expect(allOfStream)

            let later = Lines()
            let laterCount = try await harness.audit.export(since: Date().addingTimeInterval(3_600)) { await later.append($0) }
            #expect(laterCount == 0)
            let earlier = try await harness.audit.export(since: Date().addingTimeInterval(-3_600)) { _ in }
            #expect(earlier == count)
        }
    }
}

/// Collects exported lines from the export's callback.
actor Lines {
    var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
}
