import Foundation
import PostgresNIO

/// A PostgreSQL location parsed from a standard `postgres://user:password@host:port/database` URL.
public struct DatabaseURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    public enum ParseError: Error, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self {
            case .invalid(let reason): "DATABASE_URL is not a postgres:// URL: \(reason)"
            }
        }
    }

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw ParseError.invalid("expected postgres://user:password@host:port/database") }
        guard let host = components.host, !host.isEmpty else { throw ParseError.invalid("no host") }
        guard let user = components.user, !user.isEmpty else { throw ParseError.invalid("no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.isEmpty ? self.username : database
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value
        self.requireTLS = sslMode == "require" || sslMode == "verify-full"
    }

    /// A copy naming another database on the same server.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// A client configuration; `role` makes every connection run as that role (for example the
    /// runtime role with SELECT and INSERT only on events), set when the connection starts.
    public func clientConfiguration(role: String? = nil, maximumConnections: Int = 20) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable
        )
        // Named in pg_stat_activity, so an operator sees which connections are Swapline's.
        configuration.options.additionalStartupParameters = [("application_name", "swapline")]
        if let role {
            // The runtime's transactions are short; bounding them keeps global readers, which
            // wait for the oldest open transaction, from being paused by a stuck one.
            configuration.options.additionalStartupParameters += [
                ("role", role),
                ("statement_timeout", "15000"),
                ("idle_in_transaction_session_timeout", "15000"),
            ]
        }
        configuration.options.maximumConnections = maximumConnections
        // PostgresNIO's pool starts an idle timer (and a keep-alive timer) each time a connection
        // comes back, and cancels them when it is next leased. A cancelled `Task.sleep` keeps its
        // memory until its deadline, so under load the pool held every timer of the last 30 s
        // (keep-alive) and 60 s (idle), thousands a second: a server grew 40–50 MiB in 90 s.
        // A short idle timer holds a few seconds' worth. (A fixed-size pool would need no idle
        // timer, but PostgresNIO's did not come back within a minute after a database outage.)
        // No keep-alive: with it on, `PostgresClient.run()` sometimes never returned after its
        // task was cancelled (4 in 500 cancellations with several pooled connections; none in
        // 550 without), which hung a clean-clone benchmark at its end. Idle connections close
        // after 10 s anyway, and a dead one is found by its next statement.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = .seconds(10)
        return configuration
    }
}
