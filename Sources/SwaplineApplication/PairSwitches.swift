import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import SwaplineDomain

/// The pair kill switch as one process sees it: the pairs in `pair_switches`, disabled over the
/// configured market. Loaded at start, reloaded on `NOTIFY swapline_pair_switches` (so a switch
/// holds on every node within milliseconds) and at least every `pollInterval` by
/// `PairSwitchListener`, in case a notification is lost.
public final class PairSwitches: Sendable {
    public static let notificationChannel = "swapline_pair_switches"

    private let disabled = Mutex<Set<CurrencyPair>>([])

    public init() {}

    /// `market` with every switched-off pair disabled.
    public func applied(to market: Market) -> Market {
        let pairs = disabled.withLock { $0 }
        return pairs.reduce(market) { $0.withPair($1, enabled: false) }
    }

    public var disabledPairs: Set<CurrencyPair> { disabled.withLock { $0 } }

    /// Reads `pair_switches` again.
    public func reload(client: PostgresClient, logger: Logger) async throws {
        let rows = try await client.query("SELECT source_currency, destination_currency FROM pair_switches", logger: logger)
        var pairs: Set<CurrencyPair> = []
        for try await (source, destination) in rows.decode((String, String).self) {
            pairs.insert(CurrencyPair(Currency(source), Currency(destination)))
        }
        disabled.withLock { $0 = pairs }
    }

    /// Switches `pair` off (with the operator's `reason`) or on again, and tells every node.
    /// Returns false when it already was so.
    public static func set(_ pair: CurrencyPair, enabled: Bool, reason: String, client: PostgresClient, logger: Logger) async throws -> Bool {
        let source = pair.source.code
        let destination = pair.destination.code
        let changed: PostgresQuery =
            enabled
            ? "DELETE FROM pair_switches WHERE source_currency = \(source) AND destination_currency = \(destination) RETURNING 1"
            : """
            INSERT INTO pair_switches (source_currency, destination_currency, reason) VALUES (\(source), \(destination), \(reason))
            ON CONFLICT DO NOTHING RETURNING 1
            """
        return try await client.withTransaction(logger: logger) { connection in
            var found = false
            for try await _ in try await connection.query(changed, logger: logger).decode(Int.self) { found = true }
            try await connection.query("SELECT pg_notify(\(notificationChannel), '')", logger: logger)
            return found
        }
    }
}

/// Keeps a process's `PairSwitches` current: reloads on every notification, after listening
/// (again), and every `pollInterval` whatever happens.
public struct PairSwitchListener: Service {
    let switches: PairSwitches
    let client: PostgresClient
    let logger: Logger
    let pollInterval: Duration

    public init(switches: PairSwitches, client: PostgresClient, logger: Logger, pollInterval: Duration = .seconds(10)) {
        self.switches = switches
        self.client = client
        self.logger = logger
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listen() }
                group.addTask { await poll() }
                await group.waitForAll()
            }
        }
    }

    func reload() async {
        do {
            try await switches.reload(client: client, logger: logger)
        } catch {
            if !Task.isCancelled { logger.warning("pair switches not reloaded", metadata: ["error": "\(error)"]) }
        }
    }

    func poll() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            await reload()
        }
    }

    func listen() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: PairSwitches.notificationChannel) { notifications in
                        await reload()
                        for try await _ in notifications { await reload() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN for pair switches lost; listening again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
