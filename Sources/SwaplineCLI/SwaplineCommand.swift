import ArgumentParser

@main
struct SwaplineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swapline",
        abstract: "A Calypso-compatible currency-exchange service, event-sourced on PostgreSQL.",
        discussion: "Configuration comes from the environment (DATABASE_URL, SWAPLINE_*) and SWAPLINE_CONFIG_FILE; see the README.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, AccountsCommand.self, ProjectionsCommand.self, MarketCommand.self, AuditCommand.self,
            BenchCommand.self,
        ]
    )
}
