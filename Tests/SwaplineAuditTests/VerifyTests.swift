import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineAudit
import SwaplineDomain
import SwaplineEventStore
import SwaplineTestSupport
import Testing

@Suite("audit verify: hash chains, heads, seals, money")
struct VerifyTests {
    @Test func aCleanStoreIsCleanAndMoneyIsConserved() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let report = try await harness.audit.verify()
            #expect(report.findings == [])
            #expect(report.isClean)
            #expect(report.eventsChecked == (try await harness.eventCount()))
            // Two accounts and two exchanges.
            #expect(report.streamsChecked == 4)
            #expect(report.sealedStreamsChecked == nil)

            let price = history.completed.request.price
            let usdtLine = report.conservation.first { $0.currency == usdt.code }
            #expect(usdtLine?.deposits == dec("1500"))
            #expect(usdtLine?.withdrawals == dec("50"))
            // The completed exchange's 100 left the account for the house; the failed one's came back.
            #expect(usdtLine?.accounts == dec("1350"))
            #expect(usdtLine?.house == price.sourceAmount)
            let btcLine = report.conservation.first { $0.currency == btc.code }
            #expect(btcLine?.deposits == dec("0.5"))
            #expect(btcLine?.accounts == dec("0.5") + price.destinationAmount)
            #expect(btcLine?.house == -price.destinationAmount)
            let everyCurrencyBalances = report.conservation.allSatisfy(\.balances)
            #expect(everyCurrencyBalances)
        }
    }

    @Test func theAuditorRoleCanRunEveryAuditButReadsNothingElse() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let role = Migrator.auditorRole
            let client = PostgresClient(configuration: database.url.clientConfiguration(role: role, maximumConnections: 2), backgroundLogger: database.logger)
            let refusal = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                let auditor = AuditLog(client: client, logger: database.logger)
                let report = try await auditor.verify()
                #expect(report.findings == [])
                #expect(report.eventsChecked == (try await harness.eventCount()))
                let entries = try await auditor.history(of: history.completed.id).entries.count
                #expect(entries == 6)
                let sealed = try await auditor.seal()
                let ownersSeal = try await harness.audit.seal()
                #expect(sealed.digest == ownersSeal.digest)
                let lines = try await auditor.export { _ in }
                #expect(lines == (try await harness.eventCount()))
                do {
                    try await client.query("SELECT count(*) FROM accounts", logger: database.logger)
                    return false
                } catch {
                    return true
                }
            }
            #expect(refusal, "the auditor role must not read the service's other tables")
        }
    }

    @Test func aChangedPayloadIsNamedByStreamVersionAndField() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            // The first deposit (1000 USDT_TRX) becomes 100000.
            let deposit = try await harness.version(of: "FundsDeposited", in: history.accountStream)
            try await harness.tamper([
                """
                UPDATE events SET data = jsonb_set(data, '{amount}', '"100000"')
                WHERE stream_id = '\(history.accountStream)' AND stream_version = \(deposit)
                """
            ])
            let findings = try await harness.audit.verify().findings
            // Deposits and balances rise together, so only the chain can tell: exactly one finding.
            #expect(findings.count == 1)
            let finding = try #require(findings.first)
            #expect(finding.streamId == history.accountStream)
            #expect(finding.version == deposit)
            #expect(finding.field == "hash")
            #expect(finding.expected != finding.actual)
            let stored = try await harness.scalar(
                "SELECT encode(hash, 'hex') FROM events WHERE stream_id = \(history.accountStream) AND stream_version = \(deposit)", as: String.self)
            #expect(finding.actual == stored)
        }
    }

    @Test func anEventDeletedFromTheMiddleOfAStreamIsNamed() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            // Version 3 is the second deposit; the withdrawal after it is version 4.
            #expect(try await harness.eventTypes(history.accountStream).prefix(4) == ["AccountOpened", "FundsDeposited", "FundsDeposited", "FundsWithdrawn"])
            try await harness.tamper(["DELETE FROM events WHERE stream_id = '\(history.accountStream)' AND stream_version = 3"])
            let findings = try await harness.audit.verify().findings
            let fields = findings.map(\.field)
            #expect(fields == ["stream_version", "prev_hash"])
            let allAtVersion4 = findings.allSatisfy { $0.streamId == history.accountStream && $0.version == 4 }
            #expect(allAtVersion4)
            let gap = try #require(findings.first)
            #expect(gap.expected == "3")
            #expect(gap.actual == "4")
            #expect(gap.message.contains("version 3 is missing"))
        }
    }

    @Test func aDeletedLastEventIsCaughtByItsStreamHead() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            #expect(try await harness.eventTypes(history.failedStream) == ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeFailed"])
            try await harness.tamper(["DELETE FROM events WHERE stream_id = '\(history.failedStream)' AND stream_version = 4"])
            let findings = try await harness.audit.verify().findings
            let head = findings.first { $0.field == "stream_heads.last_version" }
            #expect(head?.streamId == history.failedStream)
            #expect(head?.version == 4)
            #expect(head?.expected == "4")
            #expect(head?.actual == "3")
            // The account still released a hold of an exchange that, as stored now, never failed.
            let release = try await harness.version(of: "HoldReleased", in: history.accountStream)
            let orphan = findings.first { $0.streamId == history.accountStream && $0.version == release }
            #expect(orphan?.field == "event_type")
            #expect(findings.count == 2)
        }
    }

    @Test func eventsRewrittenWithTheirHeadAreCleanWithoutASealAndCaughtAgainstOne() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let seal = try Seal.decode(try await harness.audit.seal().encoded())
            #expect(seal.isIntact)
            #expect(seal.streamCount == 4)
            let sealedHead = seal.heads.first { $0.streamId == history.completedStream }
            #expect(sealedHead?.version == 4)

            // Appends after the seal are fine: every sealed head is still there, at or below the new head.
            _ = try await harness.accounts.deposit(account: history.other, currency: btc, amountText: "1")
            let afterAppend = try await harness.audit.verify(seal: seal)
            #expect(afterAppend.findings == [])
            #expect(afterAppend.sealedStreamsChecked == 4)

            // A careful superuser changes the execution rate and recomputes the chain and the head.
            try await harness.tamper([
                """
                UPDATE events SET data = jsonb_set(data, '{executionRate}', '"0.5"')
                WHERE stream_id = '\(history.completedStream)' AND stream_version = 2
                """,
                AuditHarness.rechain(history.completedStream),
            ])
            let withoutSeal = try await harness.audit.verify()
            #expect(withoutSeal.findings == [], "a consistent rewrite is invisible without a seal")

            let findings = try await harness.audit.verify(seal: seal).findings
            #expect(findings.count == 1)
            let finding = try #require(findings.first)
            #expect(finding.streamId == history.completedStream)
            #expect(finding.version == 4)
            #expect(finding.field == "seal.hash")
            #expect(finding.expected == sealedHead?.hash)
        }
    }

    @Test func aSealFileEditedByHandIsReported() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            var seal = try await harness.audit.seal()
            let index = try #require(seal.heads.firstIndex { $0.streamId == history.failedStream })
            seal.heads[index].hash = String(repeating: "ab", count: 32)
            #expect(!seal.isIntact)
            let findings = try await harness.audit.verify(seal: seal).findings
            let fields = findings.map(\.field)
            #expect(fields.contains("digest"))
            let named = findings.contains { $0.streamId == history.failedStream && $0.field == "seal.hash" && $0.version == 4 }
            #expect(named)
        }
    }

    @Test func theSealDigestFollowsTheDocumentedFormula() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            _ = try await harness.buildHistory()
            let seal = try await harness.audit.seal()
            // The same formula in SQL: lines sorted by bytes, each ending in a newline, SHA-256 in hex.
            let digest = try await harness.scalar(
                """
                SELECT encode(sha256(convert_to(string_agg(line || E'\\n', '' ORDER BY line COLLATE "C"), 'UTF8')), 'hex')
                FROM (SELECT stream_id || ' ' || last_version || ' ' || encode(last_hash, 'hex') AS line FROM stream_heads) AS heads
                """, as: String.self)
            #expect(seal.digest == digest)
            #expect(seal.position == (try await harness.scalar("SELECT max(global_position) FROM events", as: Int64.self)))
            #expect(Timestamp.parse(seal.sealedAt) != nil)
        }
    }

    @Test func aSettlementThatDisagreesWithItsExchangeBreaksConservation() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let settled = try await harness.version(of: "ExchangeSettled", in: history.accountStream)
            // The account is credited ten times the destination amount; chain and head are made consistent.
            let forged = history.completed.request.price.destinationAmount * 10
            try await harness.tamper([
                """
                UPDATE events SET data = jsonb_set(data, '{destinationAmount}', '"\(forged.plainText)"')
                WHERE stream_id = '\(history.accountStream)' AND stream_version = \(settled)
                """,
                AuditHarness.rechain(history.accountStream),
            ])
            let report = try await harness.audit.verify()
            let mismatch = report.findings.first { $0.field == "data.destinationAmount" }
            #expect(mismatch?.streamId == history.accountStream)
            #expect(mismatch?.version == settled)
            #expect(mismatch?.expected == history.completed.request.price.destinationAmount.plainText)
            #expect(mismatch?.actual == forged.plainText)
            let balance = report.findings.first { $0.field == "balance.BTC" }
            #expect(balance?.streamId == AuditFinding.allStreams)
            #expect(balance?.expected == dec("0.5").plainText)
            #expect(report.findings.count == 2)
            let btcBalances = report.conservation.first { $0.currency == "BTC" }?.balances
            #expect(btcBalances == false)
        }
    }

    @Test func aDeletedHoldIsCaughtEvenWhenTheStreamIsRenumberedAndRechained() async throws {
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()
            let held = try await harness.version(of: "FundsHeld", in: history.accountStream, exchangeId: history.completed.id)
            let stream = history.accountStream
            try await harness.tamper([
                "DELETE FROM events WHERE stream_id = '\(stream)' AND stream_version = \(held)",
                // Two steps, because the (stream, version) key is checked row by row.
                "UPDATE events SET stream_version = stream_version + 1000 WHERE stream_id = '\(stream)' AND stream_version > \(held)",
                "UPDATE events SET stream_version = stream_version - 1001 WHERE stream_id = '\(stream)' AND stream_version > 1000",
                AuditHarness.rechain(stream),
            ])
            let findings = try await harness.audit.verify().findings
            let fields = Set(findings.map(\.field))
            #expect(fields.isSuperset(of: ["hold", "event_type", "balance.USDT_TRX", "balance.BTC"]))
            let hold = findings.first { $0.field == "hold" }
            #expect(hold?.streamId == history.completedStream)
            // The settlement now sits where the hold was, and finds no hold to settle.
            let orphan = findings.first { $0.field == "event_type" }
            #expect(orphan?.streamId == stream)
            #expect(orphan?.version == held)
            #expect(!fields.contains("hash"))
            #expect(!fields.contains("prev_hash"))
        }
    }
}
