import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UnixSignals
import SwaplineAPI
import SwaplineApplication
import SwaplineEventStore
import SwaplineExecution
import SwaplineNotifier
import SwaplineProjections

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API and the workers (execution, projections, notifier); migrations are applied first.",
        discussion: """
            Every role runs by default. Naming roles (--api, --execution, --projections, --notifier) runs only those; \
            --no-<role> leaves one out. Roles coordinate through PostgreSQL, so any number of processes run side by side.
            """
    )

    @Option(help: "Address to listen on (default SWAPLINE_HOST or 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default SWAPLINE_PORT or 8080).")
    var port: Int?

    // Roles: `--api`, `--execution`, `--projections`, `--notifier` run only the roles named;
    // `--no-…` leaves one out of all the others; neither runs every role.
    @Flag(inversion: .prefixedNo, help: "Serve the HTTP API (--api alone: only the API; --no-api: only the workers).")
    var api: Bool?

    @Flag(inversion: .prefixedNo, help: "Run the execution worker.")
    var execution: Bool?

    @Flag(inversion: .prefixedNo, help: "Run the projection runners (analysts' statistics).")
    var projections: Bool?

    @Flag(inversion: .prefixedNo, help: "Run the webhook notifier (outbox dispatcher and delivery workers).")
    var notifier: Bool?

    /// The roles this process runs: those named with `--role` if any, else all but those named `--no-role`.
    static func roles(api: Bool?, execution: Bool?, projections: Bool?, notifier: Bool?) -> (api: Bool, execution: Bool, projections: Bool, notifier: Bool) {
        let named = [api, execution, projections, notifier].contains(true)
        func runs(_ flag: Bool?) -> Bool { named ? flag == true : flag != false }
        return (runs(api), runs(execution), runs(projections), runs(notifier))
    }

    func run() async throws {
        let roles = Self.roles(api: api, execution: execution, projections: projections, notifier: notifier)
        let settings = try await Runtime.settings()
        let logger = Runtime.logger()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let applied = try await Runtime.migrate(settings, logger: logger)
        let migrator = try Runtime.migrator()
        if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": "\(applied)"]) }

        let poolMetrics = DatabasePoolMetrics(maximumConnections: settings.databasePoolSize)
        let client = PostgresClient(
            configuration: settings.databaseURL.clientConfiguration(role: Migrator.applicationRole, maximumConnections: settings.databasePoolSize),
            backgroundLogger: poolMetrics.backgroundLogger(passingOn: logger))
        let aggregates = AggregateLoader(store: EventStore.withReadModels(client: client, logger: logger))
        // Only the API authenticates requests, so only it keeps keys.
        let keyCache = roles.api && settings.keyCacheSeconds > 0
            ? APIKeyCache(timeToLive: .milliseconds(Int64((settings.keyCacheSeconds * 1000).rounded()))) : nil
        let accounts = AccountService(
            client: client, secrets: settings.masterKey, market: settings.market, logger: logger, aggregates: aggregates, keyCache: keyCache)
        // The kill switch is read before serving, so a switched-off pair is never taken at start.
        let pairSwitches = PairSwitches()
        try await Runtime.withClient(settings, logger: logger) { try await pairSwitches.reload(client: $0, logger: logger) }
        let exchanges = ExchangeService(client: client, market: settings.market, logger: logger, aggregates: aggregates, pairSwitches: pairSwitches)
        let ssrfGuard = SSRFGuard(allowedNetworks: settings.webhookAllowedNetworks)
        let subscriptions = SubscriptionService(
            client: client, secrets: settings.masterKey, ssrfGuard: ssrfGuard, rotationOverlap: settings.webhooks.rotationOverlapSeconds,
            logger: logger)
        var services: [any Service] = [client, HousekeepingService(housekeeping: Housekeeping(client: client, logger: logger))]
        services.append(PairSwitchListener(switches: pairSwitches, client: client, logger: logger))
        if let keyCache {
            services.append(KeyRevocationListener(cache: keyCache, client: client, logger: logger))
        }
        if roles.execution {
            let venue = SimulatedVenue(
                client: client, latencyMilliseconds: settings.venue.latencyMilliseconds, failureRate: settings.venue.failureRate,
                seed: settings.venue.seed, logger: logger)
            services.append(
                ExecutionWorker(
                    client: client, venue: venue, market: settings.market, deadlineSeconds: settings.executionDeadlineSeconds, logger: logger,
                    aggregates: aggregates, pairSwitches: pairSwitches))
        }
        // The runners on a thread of their own, with connections whose I/O is on it too.
        let runnerThread = roles.projections || roles.notifier ? RunnerThread() : nil
        let runnerClient = runnerThread.map {
            PostgresClient(
                configuration: settings.databaseURL.clientConfiguration(role: Migrator.applicationRole, maximumConnections: 6),
                eventLoopGroup: $0.group, backgroundLogger: logger)
        }
        if let runnerClient { services.append(runnerClient) }
        func runner(_ projection: any AsyncProjection) -> ProjectionRunner {
            ProjectionRunner(projection: projection, client: runnerClient ?? client, logger: logger, executor: runnerThread)
        }
        if roles.projections {
            for projection in ReadModels.runners {
                services.append(runner(projection))
            }
        }
        if roles.notifier {
            let webhooks = settings.webhooks
            services.append(runner(WebhookDispatcher(market: settings.market)))
            services.append(
                DeliveryWorker(
                    store: DeliveryStore(client: client, secrets: settings.masterKey, logger: logger),
                    sender: WebhookSender(
                        ssrfGuard: ssrfGuard, connectTimeoutSeconds: webhooks.connectTimeoutSeconds, timeoutSeconds: webhooks.timeoutSeconds,
                        connectionsPerHost: webhooks.concurrency, logger: logger),
                    policy: webhooks.retryDelays.map { RetryPolicy(delays: $0) } ?? .calypso,
                    concurrency: webhooks.concurrency, timeoutSeconds: webhooks.timeoutSeconds, blockErrors: webhooks.blockErrors,
                    blockWindowSeconds: webhooks.blockWindowSeconds, logger: logger))
        }
        guard roles.api else {
            // Workers only: the same services, started and stopped in order, without a listener.
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            await runnerThread?.shutdown()
            return
        }
        let app = buildApplication(
            APIDependencies(
                accounts: accounts, exchanges: exchanges, metrics: registry,
                readiness: { await Readiness.problem(client: client, migrator: migrator, logger: logger) },
                subscriptions: subscriptions,
                rateLimiter: settings.rateLimit.isEnabled
                    ? KeyRateLimiter(ratePerSecond: Double(settings.rateLimit.perSecond), burst: settings.rateLimit.burst) : nil,
                requestTimeout: .milliseconds(Int64((settings.requestTimeoutSeconds * 1000).rounded()))),
            host: host ?? settings.host,
            port: port ?? settings.port,
            services: services,
            logger: logger)
        try await app.runService()
        await runnerThread?.shutdown()
    }
}

/// Runs housekeeping once a minute until shutdown.
struct HousekeepingService: Service {
    let housekeeping: Housekeeping

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await housekeeping.runOnce()
            } catch {
                housekeeping.logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
            }
            // Shutdown must not wait out the pause.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }
}
