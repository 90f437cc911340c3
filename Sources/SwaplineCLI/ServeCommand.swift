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
        abstract: "Run the HTTP API and the execution worker (migrations are applied first)."
    )

    @Option(help: "Address to listen on (default SWAPLINE_HOST or 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default SWAPLINE_PORT or 8080).")
    var port: Int?

    @Flag(inversion: .prefixedNo, help: "Serve the HTTP API in this process (--no-api runs only the workers).")
    var api = true

    @Flag(inversion: .prefixedNo, help: "Run the execution worker in this process.")
    var execution = true

    @Flag(inversion: .prefixedNo, help: "Run the projection runners (analysts' statistics) in this process.")
    var projections = true

    @Flag(inversion: .prefixedNo, help: "Run the webhook notifier (outbox dispatcher and delivery workers) in this process.")
    var notifier = true

    func run() async throws {
        let settings = try await Runtime.settings()
        let logger = Runtime.logger()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let applied = try await Runtime.migrate(settings, logger: logger)
        let migrator = try Runtime.migrator()
        if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": "\(applied)"]) }

        let client = PostgresClient(
            configuration: settings.databaseURL.clientConfiguration(role: Migrator.applicationRole, maximumConnections: 40),
            backgroundLogger: logger)
        let aggregates = AggregateLoader(store: EventStore.withReadModels(client: client, logger: logger))
        let accounts = AccountService(client: client, secrets: settings.masterKey, market: settings.market, logger: logger, aggregates: aggregates)
        let exchanges = ExchangeService(client: client, market: settings.market, logger: logger, aggregates: aggregates)
        let ssrfGuard = SSRFGuard(allowedNetworks: settings.webhookAllowedNetworks)
        let subscriptions = SubscriptionService(
            client: client, secrets: settings.masterKey, ssrfGuard: ssrfGuard, rotationOverlap: settings.webhooks.rotationOverlapSeconds,
            logger: logger)
        var services: [any Service] = [client, HousekeepingService(housekeeping: Housekeeping(client: client, logger: logger))]
        if execution {
            let venue = SimulatedVenue(
                client: client, latencyMilliseconds: settings.venue.latencyMilliseconds, failureRate: settings.venue.failureRate,
                seed: settings.venue.seed, logger: logger)
            services.append(
                ExecutionWorker(
                    client: client, venue: venue, market: settings.market, deadlineSeconds: settings.executionDeadlineSeconds, logger: logger,
                    aggregates: aggregates))
        }
        if projections {
            for projection in ReadModels.runners {
                services.append(ProjectionRunner(projection: projection, client: client, logger: logger))
            }
        }
        if notifier {
            let webhooks = settings.webhooks
            services.append(ProjectionRunner(projection: WebhookDispatcher(market: settings.market), client: client, logger: logger))
            services.append(
                DeliveryWorker(
                    store: DeliveryStore(client: client, secrets: settings.masterKey, logger: logger),
                    sender: WebhookSender(
                        ssrfGuard: ssrfGuard, connectTimeoutSeconds: webhooks.connectTimeoutSeconds, timeoutSeconds: webhooks.timeoutSeconds,
                        logger: logger),
                    policy: webhooks.retryDelays.map { RetryPolicy(delays: $0) } ?? .calypso,
                    concurrency: webhooks.concurrency, timeoutSeconds: webhooks.timeoutSeconds, blockErrors: webhooks.blockErrors,
                    blockWindowSeconds: webhooks.blockWindowSeconds, logger: logger))
        }
        guard api else {
            // Workers only: the same services, started and stopped in order, without a listener.
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            return
        }
        let app = buildApplication(
            APIDependencies(
                accounts: accounts, exchanges: exchanges, metrics: registry,
                readiness: { await Readiness.problem(client: client, migrator: migrator, logger: logger) },
                subscriptions: subscriptions,
                rateLimiter: settings.rateLimit.isEnabled
                    ? KeyRateLimiter(ratePerSecond: Double(settings.rateLimit.perSecond), burst: settings.rateLimit.burst) : nil),
            host: host ?? settings.host,
            port: port ?? settings.port,
            services: services,
            logger: logger)
        try await app.runService()
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
