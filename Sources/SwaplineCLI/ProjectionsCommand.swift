import ArgumentParser
import Foundation
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections
import Synchronization

struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Inspect and rebuild the read models.",
        subcommands: [Status.self, Rebuild.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each projection's checkpoint and lag behind the event store.")
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let settings = try await Runtime.settings()
            let logger = Runtime.logger()
            let statuses = try await Runtime.withClient(settings, role: nil, logger: logger) { client in
                try await ProjectionRebuilder(client: client, logger: logger).status()
            }
            if json {
                let list: [JSONValue] = statuses.map { status in
                    .object([
                        ("name", .string(status.name)),
                        ("kind", .string(status.isInline ? "inline" : "runner")),
                        ("checkpoint", status.cursor.map { .string($0.description) } ?? .null),
                        ("eventsBehind", .number(String(status.eventsBehind))),
                        ("secondsBehind", .number(status.secondsBehind.plainText)),
                    ])
                }
                print(JSONValue.object([("projections", .array(list))]).serialized())
            } else {
                for status in statuses {
                    if status.isInline {
                        print("\(status.name): inline (written with every append, never behind)")
                    } else {
                        print(
                            "\(status.name): checkpoint \(status.cursor?.description ?? "-"), \(status.eventsBehind) events behind, \(status.secondsBehind.plainText) s"
                        )
                    }
                }
            }
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay a projection from zero into a fresh copy and swap it in (the old one serves meanwhile).")
        @Argument(help: "The projection: exchanges, balances or exchange_statistics; all when omitted.")
        var name: String?

        func run() async throws {
            let projections: [any RebuildableProjection]
            if let name {
                guard let projection = ReadModels.named(name) else {
                    throw ValidationError("unknown projection \(name); known: \(ReadModels.rebuildable.map(\.name).joined(separator: ", "))")
                }
                projections = [projection]
            } else {
                projections = ReadModels.rebuildable
            }
            let settings = try await Runtime.settings()
            let logger = Runtime.logger()
            try await Runtime.withClient(settings, role: nil, logger: logger) { client in
                let rebuilder = ProjectionRebuilder(client: client, logger: logger)
                for projection in projections {
                    let reporter = ProgressReporter(label: projection.name)
                    try await rebuilder.rebuild(projection) { reporter.report($0) }
                    reporter.finish()
                }
            }
        }
    }
}

/// Progress with rate and ETA: one rewritten line on a terminal, a plain line every few seconds otherwise.
final class ProgressReporter: Sendable {
    let label: String
    let isTerminal = isatty(STDERR_FILENO) != 0
    private let lastPrint = Mutex<ContinuousClock.Instant?>(nil)
    private let last = Mutex<RebuildProgress?>(nil)
    private let printed = Mutex<Int>(-1)

    init(label: String) {
        self.label = label
    }

    func report(_ progress: RebuildProgress) {
        last.withLock { $0 = progress }
        let now = ContinuousClock.now
        let due = lastPrint.withLock { previous -> Bool in
            let interval: Duration = isTerminal ? .milliseconds(200) : .seconds(5)
            if let previous, now - previous < interval { return false }
            previous = now
            return true
        }
        if due { write(progress, final: false) }
    }

    func finish() {
        if let progress = last.withLock({ $0 }), isTerminal || printed.withLock({ $0 }) != progress.applied {
            write(progress, final: true)
        }
        FileHandle.standardError.write(Data("\(label): rebuilt and swapped in\n".utf8))
    }

    private func write(_ progress: RebuildProgress, final: Bool) {
        printed.withLock { $0 = progress.applied }
        let seconds = max(Decimal(progress.elapsed.components.seconds) + Decimal(progress.elapsed.components.attoseconds / 1_000_000_000_000_000) / 1000, Decimal(string: "0.001")!)
        let rate = (Decimal(progress.applied) / seconds).rounded(scale: 0, .down)
        let remaining = max(progress.total - progress.applied, 0)
        let eta = rate > 0 ? (Decimal(remaining) / rate).rounded(scale: 0, .up) : 0
        let line = "\(label): \(progress.applied)/\(progress.total) events, \(rate.plainText) events/s, ETA \(eta.plainText) s"
        if isTerminal {
            FileHandle.standardError.write(Data("\r\(line)\(final ? "\n" : "")".utf8))
        } else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }
}
