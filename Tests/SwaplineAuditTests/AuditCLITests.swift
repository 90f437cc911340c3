import Foundation
import SwaplineAudit
import SwaplineDomain
import SwaplineEventStore
import SwaplineTestSupport
import Testing

/// Runs the built `swapline audit …` the way an auditor's script does.
@Suite("swapline audit CLI")
struct AuditCLITests {
    func swapline(_ arguments: [String], database: TestDatabase) throws -> CommandRun {
        try SwaplineExecutable.run(arguments, database: database)
    }

    @Test func verifySealHistoryAsOfAndExportFromTheCommandLine() async throws {
        try #require(SwaplineExecutable.isBuilt, "build the swapline product first")
        try await TestDatabase.with { database in
            let harness = try AuditHarness(database)
            let history = try await harness.buildHistory()

            let clean = try swapline(["audit", "verify"], database: database)
            #expect(clean.status == 0, "\(clean.errors)")
            #expect(clean.output.contains("clean: no findings"))
            #expect(clean.output.contains("USDT_TRX"))

            let sealFile = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-seal-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: sealFile) }
            let sealed = try swapline(["audit", "seal", "--output", sealFile.path], database: database)
            #expect(sealed.status == 0, "\(sealed.errors)")
            let seal = try Seal.decode(try Data(contentsOf: sealFile))
            #expect(seal.isIntact)
            #expect(seal.streamCount == 4)

            let story = try swapline(["audit", "history", String(history.completed.id)], database: database)
            #expect(story.status == 0, "\(story.errors)")
            let storyLines = story.output.split(separator: "\n")
            // A title, a header and six events.
            #expect(storyLines.count == 8)
            #expect(storyLines.last?.contains("ExchangeSettled") == true)
            #expect(story.output.contains("COMPLETED (completed)"))

            let failedStory = try swapline(["audit", "history", String(history.failed.id), "--json"], database: database)
            #expect(failedStory.status == 0, "\(failedStory.errors)")
            #expect(failedStory.output.contains("\"failureReason\" : \"VENUE_REJECTED\""))

            let asOf = try swapline(["audit", "as-of", history.account.rawValue, "3"], database: database)
            #expect(asOf.status == 0, "\(asOf.errors)")
            #expect(asOf.output.contains("version 3"))
            #expect(asOf.output.contains("available 1500"))
            let badPoint = try swapline(["audit", "as-of", history.account.rawValue, "tomorrow"], database: database)
            #expect(badPoint.status != 0)

            let export = try swapline(["audit", "export", "--stream", history.completedStream], database: database)
            #expect(export.status == 0, "\(export.errors)")
            #expect(export.output.split(separator: "\n").count == 4)
            // Progress goes to standard error (not a terminal here: plain lines), never into the NDJSON.
            #expect(export.errors.contains("export: 4/4 events (100 %)"), "\(export.errors)")
            #expect(export.errors.contains("export: 4 events written"))

            // A consistent rewrite: invisible to a plain verify, caught against the seal file, exit status 1.
            try await harness.tamper([
                """
                UPDATE events SET data = jsonb_set(data, '{executionRate}', '"0.5"')
                WHERE stream_id = '\(history.completedStream)' AND stream_version = 2
                """,
                AuditHarness.rechain(history.completedStream),
            ])
            // An auditor is not handed the master key: audit needs only DATABASE_URL.
            let plain = try SwaplineExecutable.run(["audit", "verify"], database: database, environment: ["SWAPLINE_MASTER_KEY": ""])
            #expect(plain.status == 0, "\(plain.errors)")
            #expect(plain.errors.contains("verify: "), "\(plain.errors)")
            let caught = try swapline(["audit", "verify", "--seal", sealFile.path, "--json"], database: database)
            #expect(caught.status == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(caught.output.utf8)) as? [String: Any])
            let findings = try #require(report["findings"] as? [[String: Any]])
            #expect(findings.count == 1)
            #expect(findings.first?["field"] as? String == "seal.hash")
            #expect(findings.first?["streamId"] as? String == history.completedStream)
            let text = try swapline(["audit", "verify", "--seal", sealFile.path], database: database)
            #expect(text.status == 1)
            #expect(text.output.contains("\(history.completedStream) v4 seal.hash"))
        }
    }
}
