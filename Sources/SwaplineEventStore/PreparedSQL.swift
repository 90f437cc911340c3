import Logging
import PostgresNIO

/// A statement of the hot paths (appends, stream reads, the inline read models, the execution
/// queue) that PostgreSQL parses and plans once per connection and afterwards only binds and
/// runs. Sent as a plain query, every statement was parsed, analysed and planned anew: 17 % of
/// the machine's CPU under the lifecycle benchmark (perf, 2026-11-30), work pgbench's baseline,
/// which runs in prepared mode, does not do.
///
/// The conforming type names the statement on the server (`String(describing:)`, so keep the
/// names unique and short: PostgreSQL truncates statement names to 63 bytes).
public protocol PreparedSQL: Sendable {
    /// The statement, its parameters as `$1`, `$2`, … in the order of the bindings.
    static var sql: String { get }
}

/// `Text` as PostgresNIO's prepared statement, its rows handed over undecoded.
public struct Prepared<Text: PreparedSQL>: PostgresPreparedStatement {
    public typealias Row = PostgresRow
    public static var name: String { "swapline.\(String(describing: Text.self))" }
    public static var sql: String { Text.sql }

    public let bindings: PostgresBindings

    public init(_ text: Text.Type, _ bindings: PostgresBindings) {
        self.bindings = bindings
    }

    public func makeBindings() -> PostgresBindings { bindings }
    public func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension PostgresBindings {
    /// The values in parameter order (`$1` first).
    public init<each Value: PostgresThrowingDynamicTypeEncodable>(_ values: repeat each Value) throws {
        self.init()
        repeat try append(each values)
    }
}

extension PostgresConnection {
    /// Runs a prepared statement that returns no rows worth reading, and waits for it to finish.
    public func run<Text: PreparedSQL>(_ text: Text.Type, _ bindings: PostgresBindings, logger: Logger) async throws {
        for try await _ in try await execute(Prepared(text, bindings), logger: logger) {}
    }
}

extension PostgresConnection {
    /// Runs a prepared statement chosen at run time (an event store's append statement).
    func execute(_ text: any PreparedSQL.Type, _ bindings: PostgresBindings, logger: Logger) async throws
        -> AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow>
    {
        func execute<Text: PreparedSQL>(_ text: Text.Type) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow> {
            try await self.execute(Prepared(text, bindings), logger: logger)
        }
        return try await execute(text)
    }
}

extension PostgresClient {
    /// Runs a prepared statement that returns no rows worth reading, and waits for it to finish.
    public func run<Text: PreparedSQL>(_ text: Text.Type, _ bindings: PostgresBindings, logger: Logger) async throws {
        for try await _ in try await execute(Prepared(text, bindings), logger: logger) {}
    }
}
