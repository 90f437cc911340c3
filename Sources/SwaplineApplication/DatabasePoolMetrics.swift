import Logging
import Metrics
import Synchronization

/// Pool usage of one PostgresClient as swift-metrics figures: `swapline_database_pool_connections`
/// (open now), `swapline_database_pool_size` (the most it opens) and
/// `swapline_database_pool_connect_failures_total`.
///
/// PostgresNIO tells its pool's events only to the client's background logger, at debug level
/// (its metrics delegate is internal), and of those only connecting, failing and closing: it
/// reports no lease events, so connections in use are not counted here; PostgreSQL shows them
/// in `pg_stat_activity` under `application_name = 'swapline'`. The pool opens connections on
/// demand and closes them after a minute idle, so open against size is the pool's high-water use.
/// `backgroundLogger(passingOn:)` turns those lines into figures and passes every line on to the
/// usual handler at that handler's own level.
public final class DatabasePoolMetrics: Sendable {
    private let openCount = Mutex(0)
    private let open: Gauge
    private let connectFailures: Counter

    public init(maximumConnections: Int, factory: any MetricsFactory = MetricsSystem.factory) {
        open = Gauge(label: "swapline_database_pool_connections", factory: factory)
        connectFailures = Counter(label: "swapline_database_pool_connect_failures_total", factory: factory)
        Gauge(label: "swapline_database_pool_size", factory: factory).record(maximumConnections)
        open.record(0)
    }

    /// Connections open or being opened now.
    public var openConnections: Int { openCount.withLock { $0 } }

    /// A background logger for the PostgresClient: pool lines are counted, and every line is
    /// passed on to `logger`'s handler when it reaches `logger`'s level.
    public func backgroundLogger(passingOn logger: Logger) -> Logger {
        var background = logger
        background.handler = PoolEventLogHandler(upstream: logger.handler, metrics: self)
        return background
    }

    /// PostgresNIO's `PostgresClientMetrics` lines (a test fails if they change).
    fileprivate func observe(_ message: String) {
        switch message {
        case "Creating new connection": change(+1)
        case "Connection creation failed":
            change(-1)
            connectFailures.increment()
        case "Connection closed": change(-1)
        default: break
        }
    }

    private func change(_ delta: Int) {
        let now = openCount.withLock { count in
            count = max(0, count + delta)
            return count
        }
        open.record(now)
    }
}
/// Counts PostgresNIO's pool lines and passes every line on at the upstream handler's level.
private struct PoolEventLogHandler: LogHandler {
    var upstream: any LogHandler
    let metrics: DatabasePoolMetrics

    // Debug, so the pool's lines arrive; what is passed on is filtered by the upstream's level.
    var logLevel: Logger.Level {
        get { .debug }
        set {}
    }

    var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { upstream.metadataProvider }
        set { upstream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level <= .info { metrics.observe(event.message.description) }
        if event.level >= upstream.logLevel { upstream.log(event: event) }
    }
}
