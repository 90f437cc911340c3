import ArgumentParser
import Logging
import PostgresNIO
import SwaplineApplication

@main
struct SwaplineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swapline",
        abstract: "A Calypso-compatible currency-exchange service, event-sourced on PostgreSQL.",
        discussion: "Configuration comes from the environment (DATABASE_URL, SWAPLINE_*) and SWAPLINE_CONFIG_FILE; see the README.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, AccountsCommand.self, ProjectionsCommand.self, MarketCommand.self, AuditCommand.self,
            BenchCommand.self, DemoCommand.self,
        ]
    )

    /// ArgumentParser's own entry, after choosing the log format once for the whole process and
    /// capping malloc's arenas before the server's threads start allocating, and moving Swift's
    /// tasks onto the event loops before any other task starts.
    static func main() async {
        ConcurrencyExecutor.useEventLoopsUnlessConfigured()
        MallocArenas.capUnlessConfigured()
        Runtime.bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: DatabaseFailure(error) ?? error)
        }
    }
}

/// A database error as a command reports it: PostgreSQL's own message, detail and SQLSTATE, or
/// what broke the connection. `PSQLError`'s description is deliberately generic (it keeps queries
/// and their values out of logs), so on its own a failed command said nothing useful.
struct DatabaseFailure: Error, CustomStringConvertible {
    let description: String

    init?(_ error: any Error) {
        // `withTransaction` wraps what failed inside it.
        let unwrapped = (error as? PostgresTransactionError).flatMap {
            $0.closureError ?? $0.beginError ?? $0.commitError ?? $0.rollbackError
        } ?? error
        guard let error = unwrapped as? PSQLError else { return nil }
        if let message = error.serverInfo?[.message] {
            let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
            let state = error.serverInfo?[.sqlState].map { " [SQLSTATE \($0)]" } ?? ""
            description = "PostgreSQL: \(message)\(detail)\(state)"
        } else {
            description = "PostgreSQL: \(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
    }
}
