import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier

/// What the HTTP API needs from the rest of Swapline.
public struct APIDependencies: Sendable {
    public var accounts: AccountService
    public var exchanges: ExchangeService
    public var queries: ExchangeQueries
    public var now: @Sendable () -> Date
    /// Bodies above this size get 413 with a Calypso error body.
    public var maximumBodyBytes: Int
    /// What `GET /metrics` exposes in Prometheus' text format; nil serves no metrics.
    public var metrics: PrometheusCollectorRegistry?
    /// Why the service cannot serve now (database unreachable, migrations missing), or nil when ready.
    public var readiness: @Sendable () async -> String?
    /// Webhook subscriptions; nil mounts no `/api/v1/subscription/webhook` routes.
    public var subscriptions: SubscriptionService?
    /// The per-key request rate limit of the signed routes, in this process; nil limits nothing.
    public var rateLimiter: KeyRateLimiter?
    /// A signed request still running after this gets 503 (`112`); see `RequestDeadlineMiddleware`.
    public var requestTimeout: Duration

    public init(
        accounts: AccountService, exchanges: ExchangeService, now: @escaping @Sendable () -> Date = Date.init, maximumBodyBytes: Int = 64 * 1024,
        metrics: PrometheusCollectorRegistry? = nil, readiness: @escaping @Sendable () async -> String? = { nil },
        subscriptions: SubscriptionService? = nil, rateLimiter: KeyRateLimiter? = nil, requestTimeout: Duration = .seconds(10)
    ) {
        self.accounts = accounts
        self.exchanges = exchanges
        self.queries = ExchangeQueries(client: exchanges.client, logger: exchanges.logger)
        self.now = now
        self.maximumBodyBytes = maximumBodyBytes
        self.metrics = metrics
        self.readiness = readiness
        self.subscriptions = subscriptions
        self.rateLimiter = rateLimiter
        self.requestTimeout = requestTimeout
    }
}

/// Builds the router of the Calypso-compatible API; tests drive the same router.
public func buildRouter(_ dependencies: APIDependencies) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    // Outermost, so request counts and durations see the status the client got.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: CalypsoErrorMiddleware())
    router.get("/health") { _, _ in Response.json(.object([("status", .string("ok"))])) }
    router.get("/ready") { _, _ in
        if let reason = await dependencies.readiness() {
            return Response.json(.object([("status", .string("not ready")), ("reason", .string(reason))]), status: .serviceUnavailable)
        }
        return Response.json(.object([("status", .string("ready"))]))
    }
    router.get("/openapi.yaml") { _, _ in OpenAPIDocument.response }
    if let registry = dependencies.metrics {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
    // The signed routes: the rate limit runs after routing (so metrics name the route) and before
    // the body is read, the signature checked or the database asked; then the deadline.
    let signed = router.group()
    if let limiter = dependencies.rateLimiter {
        signed.add(middleware: RateLimitMiddleware(limiter: limiter))
    }
    signed.add(middleware: RequestDeadlineMiddleware(timeout: dependencies.requestTimeout))
    let authenticator = RequestAuthenticator(accounts: dependencies.accounts, now: dependencies.now, maximumBodyBytes: dependencies.maximumBodyBytes)
    ExchangeController(
        accounts: dependencies.accounts, exchanges: dependencies.exchanges, queries: dependencies.queries,
        statistics: StatisticsQueries(client: dependencies.exchanges.client, logger: dependencies.exchanges.logger), authenticator: authenticator)
        .addRoutes(to: signed)
    if let subscriptions = dependencies.subscriptions {
        SubscriptionController(
            subscriptions: subscriptions,
            deliveries: DeliveryStore(client: subscriptions.client, secrets: subscriptions.secrets, logger: subscriptions.logger),
            authenticator: authenticator
        ).addRoutes(to: signed)
    }
    // Last, so that it runs only when no route matched: a known path with another method is 405.
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}

/// The HTTP application, listening on `host:port`, with the given services (database client,
/// workers) run and shut down in order by swift-service-lifecycle.
public func buildApplication(
    _ dependencies: APIDependencies,
    host: String,
    port: Int,
    services: [any Service],
    logger: Logger
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(dependencies),
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "swapline"),
        services: services,
        logger: logger
    )
}
