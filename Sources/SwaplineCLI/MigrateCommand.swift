import ArgumentParser

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the SQL migrations in schema/ that the database has not seen (idempotent)."
    )

    func run() async throws {
        let settings = try await Runtime.settings()
        let logger = Runtime.logger()
        let applied = try await Runtime.migrate(settings, logger: logger)
        print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.joined(separator: ", "))")
    }
}
