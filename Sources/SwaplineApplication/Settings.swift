import Configuration
import Foundation
import SwaplineDomain
import SwaplineEventStore
import SystemPackage

/// A configuration value that cannot be used, named by its environment key.
public struct SwaplineConfigurationError: Error, CustomStringConvertible {
    public var key: String
    public var message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "configuration \(key) \(message)" }
}

/// Every setting Swapline reads, from environment variables first and then an optional JSON
/// configuration file (`SWAPLINE_CONFIG_FILE`), with defaults that run locally. The README's
/// configuration table lists the same keys.
public struct SwaplineSettings: Sendable {
    /// `DATABASE_URL`: the owner's URL; nil means the local cluster of `scripts/run`.
    public var databaseURL: DatabaseURL
    public var host: String
    public var port: Int
    public var masterKey: SecretBox
    public var market: Market
    public var venue: VenueSettings
    /// How long an exchange may stay with the venue before it is failed with VENUE_TIMEOUT.
    public var executionDeadlineSeconds: Int
    /// `SWAPLINE_WEBHOOK_ALLOWED_NETWORKS`: CIDRs the webhook SSRF guard lets through although
    /// they are not global (e.g. `127.0.0.0/8` for local development); empty by default.
    public var webhookAllowedNetworks: [IPNetwork]
    public var webhooks: WebhookSettings
    public var rateLimit: RateLimitSettings
    /// `SWAPLINE_REQUEST_TIMEOUT_SECONDS`: a signed request still running after this gets 503 (`112`).
    public var requestTimeoutSeconds: Double
    /// `SWAPLINE_DATABASE_POOL_SIZE`: connections one `serve` process opens at most.
    public var databasePoolSize: Int

    /// Two connections per core, as PostgreSQL's wiki sizes a pool for a database on this
    /// machine's cores, plus the four a whole `serve` holds for `LISTEN`. More only queue for the
    /// cores: with 40 on 2 cores, projection lag under the create workload had p99 ~105 ms and 8 had
    /// 26–31 ms, with as many creates/s (docs/PERFORMANCE.md).
    public static let defaultDatabasePoolSize = 2 * ProcessInfo.processInfo.activeProcessorCount + 4
    /// The four `LISTEN` connections and two to work with; fewer and a whole `serve` waits forever.
    public static let smallestDatabasePoolSize = 6
    /// `SWAPLINE_KEY_CACHE_SECONDS`: how long an API node keeps an active key (0: not at all).
    public var keyCacheSeconds: Double

    /// The per-key request rate limit of the signed API routes, kept by each API process on its
    /// own: a cluster of n API nodes allows n × this per key.
    public struct RateLimitSettings: Sendable, Equatable {
        /// `SWAPLINE_RATE_LIMIT_PER_SECOND`: requests a second per API key; 0 switches the limit off.
        public var perSecond: Int
        /// `SWAPLINE_RATE_LIMIT_BURST`: how many requests a key may make at once after a quiet spell.
        public var burst: Int

        public init(perSecond: Int = 100, burst: Int = 200) {
            self.perSecond = perSecond
            self.burst = burst
        }

        public var isEnabled: Bool { perSecond > 0 }
    }

    /// How the notifier delivers (SWAPLINE_WEBHOOK_…).
    public struct WebhookSettings: Sendable, Equatable {
        /// `SWAPLINE_WEBHOOK_RETRY_SCHEDULE`: seconds before each retry; nil is Calypso's 19-step schedule.
        public var retryDelays: [Double]?
        /// `SWAPLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS` and `SWAPLINE_WEBHOOK_TIMEOUT_SECONDS` (the whole request).
        public var connectTimeoutSeconds: Double
        public var timeoutSeconds: Double
        /// `SWAPLINE_WEBHOOK_CONCURRENCY`: deliveries one process sends at once.
        public var concurrency: Int
        /// `SWAPLINE_WEBHOOK_BLOCK_ERRORS` / `SWAPLINE_WEBHOOK_BLOCK_WINDOW_SECONDS`: more errors than
        /// this and no success within the window blocks a subscription (Calypso: 100 in 10 minutes).
        public var blockErrors: Int
        public var blockWindowSeconds: Double
        /// `SWAPLINE_WEBHOOK_ROTATION_OVERLAP_SECONDS`: how long regenerated-away secrets keep signing.
        public var rotationOverlapSeconds: Double

        public init(
            retryDelays: [Double]? = nil, connectTimeoutSeconds: Double = 5, timeoutSeconds: Double = 15, concurrency: Int = 16,
            blockErrors: Int = 100, blockWindowSeconds: Double = 600, rotationOverlapSeconds: Double = 86_400
        ) {
            self.retryDelays = retryDelays
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.timeoutSeconds = timeoutSeconds
            self.concurrency = concurrency
            self.blockErrors = blockErrors
            self.blockWindowSeconds = blockWindowSeconds
            self.rotationOverlapSeconds = rotationOverlapSeconds
        }

        /// Comma-separated seconds (`30,30,60`; decimals allowed for tests), each at most a week.
        public static func parseDelays(_ text: String) -> [Double]? {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !parts.isEmpty, parts.count <= 100 else { return nil }
            var delays: [Double] = []
            for part in parts {
                guard let value = Double(part), value.isFinite, value >= 0, value <= 7 * 86_400 else { return nil }
                delays.append(value)
            }
            return delays
        }
    }

    public struct VenueSettings: Sendable {
        public var latencyMilliseconds: Int
        public var failureRate: Decimal
        public var seed: UInt64
        public init(latencyMilliseconds: Int = 0, failureRate: Decimal = 0, seed: UInt64 = 1) {
            self.latencyMilliseconds = latencyMilliseconds
            self.failureRate = failureRate
            self.seed = seed
        }
    }

    /// The local cluster that `scripts/run` starts when no DATABASE_URL is set.
    public static let localDatabaseURL = "postgres://swapline@127.0.0.1:54329/swapline"

    public init(
        databaseURL: DatabaseURL,
        host: String = "127.0.0.1",
        port: Int = 8080,
        masterKey: SecretBox,
        market: Market = .defaults,
        venue: VenueSettings = VenueSettings(),
        executionDeadlineSeconds: Int = 120,
        webhookAllowedNetworks: [IPNetwork] = [],
        webhooks: WebhookSettings = WebhookSettings(),
        rateLimit: RateLimitSettings = RateLimitSettings(),
        requestTimeoutSeconds: Double = 10,
        databasePoolSize: Int = SwaplineSettings.defaultDatabasePoolSize,
        keyCacheSeconds: Double = 5
    ) {
        self.databaseURL = databaseURL
        self.host = host
        self.port = port
        self.masterKey = masterKey
        self.market = market
        self.venue = venue
        self.executionDeadlineSeconds = executionDeadlineSeconds
        self.webhookAllowedNetworks = webhookAllowedNetworks
        self.webhooks = webhooks
        self.rateLimit = rateLimit
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.databasePoolSize = databasePoolSize
        self.keyCacheSeconds = keyCacheSeconds
    }

    /// The readers in priority order: environment variables, then the file named by
    /// `SWAPLINE_CONFIG_FILE` (keys nested by their dots, e.g. `{"swapline": {"port": 8080}}`; numbers may be JSON numbers or strings).
    public static func makeReader(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let file = environment["SWAPLINE_CONFIG_FILE"], !file.isEmpty {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
            } catch {
                throw SwaplineConfigurationError(key: "SWAPLINE_CONFIG_FILE", message: "cannot be read: \(error)")
            }
        }
        return ConfigReader(providers: providers)
    }

    /// `DATABASE_URL` alone, for work that needs no other setting (an auditor's, without the master key).
    public static func loadDatabaseURL(from reader: ConfigReader) throws -> DatabaseURL {
        let urlText = reader.string(forKey: "database.url", default: localDatabaseURL)
        do {
            return try DatabaseURL(urlText)
        } catch {
            throw SwaplineConfigurationError(key: "DATABASE_URL", message: "\(error)")
        }
    }

    public static func load(from reader: ConfigReader) throws -> SwaplineSettings {
        let databaseURL = try loadDatabaseURL(from: reader)
        guard let masterKeyText = reader.string(forKey: "swapline.master.key", isSecret: true), !masterKeyText.isEmpty else {
            throw SwaplineConfigurationError(
                key: "SWAPLINE_MASTER_KEY",
                message: "is not set (base64 of 32 bytes; scripts/run generates one in .swapline/)"
            )
        }
        let masterKey = try SecretBox(base64MasterKey: masterKeyText)
        var market = Market.defaults
        if let file = reader.string(forKey: "swapline.market.file"), !file.isEmpty {
            do {
                market = try Market.decode(json: try Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                throw SwaplineConfigurationError(key: "SWAPLINE_MARKET_FILE", message: "cannot be used: \(error)")
            }
        }
        let port = try integer(reader, "swapline.port", "SWAPLINE_PORT", default: 8080, range: 0...65535)
        let latency = try integer(reader, "swapline.venue.latency.ms", "SWAPLINE_VENUE_LATENCY_MS", default: 0, range: 0...600_000)
        let seed = try integer(reader, "swapline.venue.seed", "SWAPLINE_VENUE_SEED", default: 1, range: 0...Int.max)
        let deadline = try integer(
            reader, "swapline.execution.deadline.seconds", "SWAPLINE_EXECUTION_DEADLINE_SECONDS", default: 120, range: 1...86_400)
        var failureRate: Decimal = 0
        if let text = reader.string(forKey: "swapline.venue.failure.rate") {
            guard let rate = try? Amount.parseDecimal(text), rate <= 1 else {
                throw SwaplineConfigurationError(key: "SWAPLINE_VENUE_FAILURE_RATE", message: "must be a decimal between 0 and 1, got \(text)")
            }
            failureRate = rate
        }
        let allowedNetworks = try IPNetwork.parseList(
            reader.string(forKey: "swapline.webhook.allowed.networks", default: ""), key: "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS")
        var webhooks = WebhookSettings()
        if let text = reader.string(forKey: "swapline.webhook.retry.schedule"), !text.isEmpty {
            guard let delays = WebhookSettings.parseDelays(text) else {
                throw SwaplineConfigurationError(
                    key: "SWAPLINE_WEBHOOK_RETRY_SCHEDULE", message: "must be comma-separated seconds (at most 100, each 0...604800), got \"\(text)\"")
            }
            webhooks.retryDelays = delays
        }
        webhooks.connectTimeoutSeconds = try seconds(
            reader, "swapline.webhook.connect.timeout.seconds", "SWAPLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default: 5, range: 0.01...300)
        webhooks.timeoutSeconds = try seconds(
            reader, "swapline.webhook.timeout.seconds", "SWAPLINE_WEBHOOK_TIMEOUT_SECONDS", default: 15, range: 0.01...600)
        webhooks.concurrency = try integer(reader, "swapline.webhook.concurrency", "SWAPLINE_WEBHOOK_CONCURRENCY", default: 16, range: 1...1024)
        webhooks.blockErrors = try integer(reader, "swapline.webhook.block.errors", "SWAPLINE_WEBHOOK_BLOCK_ERRORS", default: 100, range: 1...1_000_000)
        webhooks.blockWindowSeconds = try seconds(
            reader, "swapline.webhook.block.window.seconds", "SWAPLINE_WEBHOOK_BLOCK_WINDOW_SECONDS", default: 600, range: 1...604_800)
        webhooks.rotationOverlapSeconds = try seconds(
            reader, "swapline.webhook.rotation.overlap.seconds", "SWAPLINE_WEBHOOK_ROTATION_OVERLAP_SECONDS", default: 86_400, range: 0...2_592_000)
        let rateLimit = RateLimitSettings(
            perSecond: try integer(reader, "swapline.rate.limit.per.second", "SWAPLINE_RATE_LIMIT_PER_SECOND", default: 100, range: 0...1_000_000),
            burst: try integer(reader, "swapline.rate.limit.burst", "SWAPLINE_RATE_LIMIT_BURST", default: 200, range: 1...1_000_000))
        return SwaplineSettings(
            databaseURL: databaseURL,
            host: reader.string(forKey: "swapline.host", default: "127.0.0.1"),
            port: port,
            masterKey: masterKey,
            market: market,
            venue: VenueSettings(latencyMilliseconds: latency, failureRate: failureRate, seed: UInt64(seed)),
            executionDeadlineSeconds: deadline,
            webhookAllowedNetworks: allowedNetworks,
            webhooks: webhooks,
            rateLimit: rateLimit,
            requestTimeoutSeconds: try seconds(
                reader, "swapline.request.timeout.seconds", "SWAPLINE_REQUEST_TIMEOUT_SECONDS", default: 10, range: 0.1...600),
            databasePoolSize: try integer(reader, "swapline.database.pool.size", "SWAPLINE_DATABASE_POOL_SIZE", default: Self.defaultDatabasePoolSize,
                range: Self.smallestDatabasePoolSize...10_000),
            keyCacheSeconds: try seconds(reader, "swapline.key.cache.seconds", "SWAPLINE_KEY_CACHE_SECONDS", default: 5, range: 0...300)
        )
    }

    /// Reads an integer given as text (environment) or as a number (JSON file), so a bad value
    /// is an error naming the key rather than a silent default.
    static func integer(_ reader: ConfigReader, _ key: ConfigKey, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        if let number = reader.int(forKey: key) {
            guard range.contains(number) else {
                throw SwaplineConfigurationError(key: name, message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got \(number)")
            }
            return number
        }
        guard let text = reader.string(forKey: key) else { return value }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw SwaplineConfigurationError(key: name, message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
        }
        return number
    }

    /// Reads a number of seconds (decimals allowed) given as text or as a JSON number.
    static func seconds(_ reader: ConfigReader, _ key: ConfigKey, _ name: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        if let number = reader.double(forKey: key) {
            guard range.contains(number) else {
                throw SwaplineConfigurationError(key: name, message: "must be seconds in \(range.lowerBound)...\(range.upperBound), got \(number)")
            }
            return number
        }
        guard let text = reader.string(forKey: key) else { return value }
        guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite, range.contains(number) else {
            throw SwaplineConfigurationError(key: name, message: "must be seconds in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
        }
        return number
    }
}
