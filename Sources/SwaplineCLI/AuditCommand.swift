import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineAudit
import SwaplineDomain
import SwaplineEventStore

/// `swapline audit …`: the auditors' door. Connects as the auditor role, which may only read.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Replay history, prove it was not altered, check that money is conserved, export it.",
        subcommands: [History.self, AsOf.self, Verify.self, SealCommand.self, Export.self]
    )

    /// Options every audit subcommand shares.
    struct Connection: ParsableArguments {
        @Option(
            help: ArgumentHelp(
                "Role each connection takes (SET ROLE); empty keeps the DATABASE_URL user's own rights.",
                discussion: "An auditor whose login is already restricted passes --role ''."))
        var role: String = Migrator.auditorRole
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every event of an exchange and the account events it caused, in order, with the state after each.")
        @Argument(help: "The exchange id.") var exchangeId: Int64
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var connection: Connection

        func run() async throws {
            let history = try await AuditCommand.withAudit(connection) { try await $0.history(of: exchangeId) }
            if json { return try AuditCommand.printJSON(history) }
            let final = history.final
            print(
                "exchange \(history.exchangeId) · account \(history.account) · \(final.sourceCurrency) -> \(final.destinationCurrency) · \(final.publicState)"
            )
            let streamWidth = history.entries.map(\.event.streamId.count).max() ?? 0
            print(
                "  \(pad("pos", 6, left: true))  \(pad("recorded_at (UTC)", 27))  \(pad("stream", streamWidth))  \(pad("v", 3, left: true))  \(pad("event", 18))  state after"
            )
            for entry in history.entries {
                let event = entry.event
                print(
                    "  \(pad(String(event.globalPosition), 6, left: true))  \(pad(event.recordedAt, 27))  \(pad(event.streamId, streamWidth))  \(pad(String(event.streamVersion), 3, left: true))  \(pad(event.eventType, 18))  \(entry.state.summary)"
                )
            }
        }
    }

    struct AsOf: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "as-of", abstract: "An exchange's or an account's state at a version or a time.")
        @Argument(help: "An exchange id, or an account id (0x + 40 hex).") var subject: String
        @Argument(help: "A stream version (1, 2, …) or an ISO-8601 time (2026-01-02T03:04:05.123456Z).") var point: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var connection: Connection

        func run() async throws {
            guard let parsedSubject = AuditSubject.parse(subject) else {
                throw ValidationError("'\(subject)' is neither an exchange id nor an account id (0x + 40 hex)")
            }
            guard let parsedPoint = AuditPoint.parse(point) else {
                throw ValidationError("'\(point)' is neither a version (1, 2, …) nor an ISO-8601 time")
            }
            let state = try await AuditCommand.withAudit(connection) { try await $0.asOf(parsedSubject, parsedPoint) }
            if json { return try AuditCommand.printJSON(state) }
            let recorded = state.recordedAt.map { "recorded \($0); " } ?? ""
            print("\(state.streamId) as of \(state.point): version \(state.version) (\(recorded)stream now at version \(state.latestVersion))")
            switch state.state {
            case nil:
                print("  did not exist yet")
            case .exchange(let exchange)?:
                print("  \(exchange.summary)")
            case .account(let account)?:
                print("  account \(account.account) (\(account.name))")
                for balance in account.balances {
                    print("  \(pad(balance.currency.code, 10))  available \(balance.available.plainText)  held \(balance.held.plainText)")
                }
                if !account.openHolds.isEmpty {
                    print("  open holds: \(account.openHolds.map(String.init).joined(separator: ", "))")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash chain, compare heads (and a seal), check money conservation; exit 1 on any finding.")
        @Option(help: "A seal file written earlier by `swapline audit seal --output`.") var seal: String?
        @Flag(help: "Print the report as JSON.") var json = false
        @OptionGroup var connection: Connection

        func run() async throws {
            let sealed: Seal? = try seal.map { path in
                do {
                    return try Seal.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
                } catch {
                    throw ValidationError("cannot read the seal file \(path): \(error)")
                }
            }
            let reporter = ProgressReporter(label: "verify")
            let report = try await AuditCommand.withAudit(connection) { audit in
                try await audit.verify(seal: sealed) { reporter.report(done: $0, total: $1) }
            }
            reporter.finish()
            if json {
                try AuditCommand.printJSON(report)
            } else {
                let against = report.sealedStreamsChecked.map { ", against a seal of \($0) streams (\(sealed?.sealedAt ?? ""))" } ?? ""
                print("checked \(report.streamsChecked) streams, \(report.eventsChecked) events: hashes recomputed, links, versions and heads compared\(against)")
                if !report.projectionsChecked.isEmpty { print("read models recomputed: \(report.projectionsChecked.joined(separator: ", "))") }
                print("money per currency (deposits − withdrawals = accounts + house):")
                for line in report.conservation {
                    print(
                        "  \(pad(line.currency, 10))  \(line.deposits.plainText) − \(line.withdrawals.plainText) = \(line.accounts.plainText) + \(line.house.plainText)  \(line.balances ? "ok" : "DOES NOT ADD UP")"
                    )
                }
                if report.isClean {
                    print("clean: no findings")
                } else {
                    print("\(report.findings.count) finding(s):")
                    for finding in report.findings { print("  \(finding)") }
                }
            }
            if !report.isClean { throw ExitCode(1) }
        }
    }

    struct SealCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seal",
            abstract: "Print (or write) a digest of every stream head, to keep outside the database for `audit verify --seal`.")
        @Option(help: "Write the seal to this file instead of printing it.") var output: String?
        @OptionGroup var connection: Connection

        func run() async throws {
            let seal = try await AuditCommand.withAudit(connection) { try await $0.seal() }
            let data = try seal.encoded()
            guard let output else {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            try data.write(to: URL(fileURLWithPath: output))
            print("sealed \(seal.streamCount) streams up to position \(seal.position) at \(seal.sealedAt)")
            print("digest \(seal.digest) written to \(output)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The history as NDJSON, one event per line in global order, every column, hashes in hex.")
        @Option(help: "Only events recorded at or after this ISO-8601 time.") var since: String?
        @Option(help: "Only this stream (e.g. exchange-1000 or account-0x…).") var stream: String?
        @OptionGroup var connection: Connection

        func run() async throws {
            let sinceDate: Date? = try since.map { text in
                guard let date = Timestamp.parse(text) else { throw ValidationError("--since must be an ISO-8601 time, e.g. 2026-01-02T00:00:00Z") }
                return date
            }
            let stream = self.stream
            let reporter = ProgressReporter(label: "export")
            let count = try await AuditCommand.withAudit(connection) { audit in
                try await audit.export(since: sinceDate, stream: stream, progress: { reporter.report(done: $0, total: $1) }) { line in print(line) }
            }
            reporter.finish("\(count) events written")
        }
    }

    /// Runs `body` with an audit log on a client that takes the chosen role.
    static func withAudit<Result: Sendable>(_ connection: Connection, _ body: @Sendable (AuditLog) async throws -> Result) async throws -> Result {
        let databaseURL = try await Runtime.databaseURL()
        let logger = Runtime.logger()
        do {
            return try await Runtime.withClient(databaseURL, role: connection.role.isEmpty ? nil : connection.role, logger: logger) { client in
                try await body(AuditLog(client: client, logger: logger, projections: ReadModelVerifiers.all))
            }
        } catch let error as AuditError {
            throw ValidationError(error.description)
        }
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// `text` padded with spaces to `width` (right-aligned when `left` padding is asked for).
private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return left ? padding + text : text + padding
}
