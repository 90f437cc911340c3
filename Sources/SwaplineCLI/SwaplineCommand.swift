import ArgumentParser
import Logging
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
            exit(withError: error)
        }
    }
}
