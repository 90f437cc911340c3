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
            // Only the database: rebuilding or inspecting read models needs no master key.
            let databaseURL = try await Runtime.databaseURL()
            let logger = Runtime.logger()
            let statuses = try await Runtime.withClient(databaseURL, role: nil, logger: logger) { client in
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
            // Only the database: rebuilding or inspecting read models needs no master key.
            let databaseURL = try await Runtime.databaseURL()
            let logger = Runtime.logger()
            try await Runtime.withClient(databaseURL, role: nil, logger: logger) { client in
                let rebuilder = ProjectionRebuilder(client: client, logger: logger)
                // All at once, one bar for them all: each rebuild's work is on its own server process.
                let reporter = ProgressReporter(label: projections.map(\.name).joined(separator: ", "))
                try await rebuilder.rebuild(projections) { reporter.report(done: $0.applied, total: $0.total) }
                reporter.finish("rebuilt and swapped in")
            }
        }
    }
}
