import Foundation
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import Testing

@Suite("Market rules through the API")
struct MarketAPITests {
    let pair = #""sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC""#

    @Test func aStaleRateIsRefusedWith107() async throws {
        var market = Market.defaults
        let usdtBTC = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
        market.pairs[usdtBTC]?.rateAsOf = Date().addingTimeInterval(-3600)
        try await APIHarness.with(market: market) { api in
            let merchant = try await api.merchant()
            let quote = try await api.call("/api/v1/exchange/pre-calculate", merchant, payload: "{\(pair), \"amount\": 100}")
            #expect(quote.errorCode == "107")
            let create = try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 100}")
            #expect(create.errorCode == "107")
            #expect(try await api.balance(merchant, "USDT_TRX").held == 0)
        }
    }

    @Test func aDisabledPairIsRefusedWith100() async throws {
        let market = Market.defaults.withPair(CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), enabled: false)
        try await APIHarness.with(market: market) { api in
            let merchant = try await api.merchant()
            #expect(try await api.call("/api/v1/exchange/create", merchant, payload: "{\(pair), \"amount\": 100}").errorCode == "100")
            #expect(try await api.call("/api/v1/exchange/limit", merchant, payload: "{\(pair)}").errorCode == "100")
            let pairs = try await api.call("/api/v1/exchange/pairs", merchant)
            guard case .array(let fromUSDT)? = pairs.json["currencyPairs"]?["USDT_TRX"] else {
                Issue.record("no pairs")
                return
            }
            #expect(fromUSDT.first { $0["name"] == .string("BTC") }?["enabled"] == .bool(false))
        }
    }
}

@Suite("Configuration")
struct SettingsTests {
    static let key = Data(repeating: 1, count: 32).base64EncodedString()

    func load(_ environment: [String: String]) async throws -> SwaplineSettings {
        try SwaplineSettings.load(from: try await SwaplineSettings.makeReader(environment: environment))
    }

    @Test func defaultsRunLocally() async throws {
        let settings = try await load(["SWAPLINE_MASTER_KEY": Self.key])
        #expect(settings.host == "127.0.0.1")
        #expect(settings.port == 8080)
        #expect(settings.databaseURL.port == 54329)
        #expect(settings.venue.failureRate == 0)
        #expect(settings.webhooks == SwaplineSettings.WebhookSettings())
        #expect(settings.webhooks.retryDelays == nil, "Calypso's schedule")
        #expect(settings.rateLimit == SwaplineSettings.RateLimitSettings(perSecond: 100, burst: 200))
        #expect(settings.requestTimeoutSeconds == 10)
        #expect(settings.databasePoolSize == 2 * ProcessInfo.processInfo.activeProcessorCount + 4)
    }

    @Test func requestTimeoutAndPoolSizeAreRead() async throws {
        let settings = try await load(["SWAPLINE_MASTER_KEY": Self.key, "SWAPLINE_REQUEST_TIMEOUT_SECONDS": "2.5", "SWAPLINE_DATABASE_POOL_SIZE": "8"])
        #expect(settings.requestTimeoutSeconds == 2.5)
        #expect(settings.databasePoolSize == 8)
    }

    @Test func rateLimitSettingsAreRead() async throws {
        let settings = try await load(["SWAPLINE_MASTER_KEY": Self.key, "SWAPLINE_RATE_LIMIT_PER_SECOND": "5", "SWAPLINE_RATE_LIMIT_BURST": "7"])
        #expect(settings.rateLimit == SwaplineSettings.RateLimitSettings(perSecond: 5, burst: 7))
        #expect(settings.rateLimit.isEnabled)
        let off = try await load(["SWAPLINE_MASTER_KEY": Self.key, "SWAPLINE_RATE_LIMIT_PER_SECOND": "0"])
        #expect(!off.rateLimit.isEnabled, "0 a second switches the limit off")
    }

    @Test func webhookSettingsAreRead() async throws {
        let settings = try await load([
            "SWAPLINE_MASTER_KEY": Self.key, "SWAPLINE_WEBHOOK_RETRY_SCHEDULE": "0.5, 1,2", "SWAPLINE_WEBHOOK_TIMEOUT_SECONDS": "2.5",
            "SWAPLINE_WEBHOOK_CONCURRENCY": "4", "SWAPLINE_WEBHOOK_BLOCK_ERRORS": "7",
        ])
        #expect(settings.webhooks.retryDelays == [0.5, 1, 2])
        #expect(settings.webhooks.timeoutSeconds == 2.5)
        #expect(settings.webhooks.concurrency == 4)
        #expect(settings.webhooks.blockErrors == 7)
    }

    @Test(arguments: [
        ["SWAPLINE_PORT": "eighty"], ["SWAPLINE_PORT": "70000"], ["SWAPLINE_MASTER_KEY": "short"], ["DATABASE_URL": "mysql://x@y/z"],
        ["SWAPLINE_VENUE_FAILURE_RATE": "1.5"], ["SWAPLINE_VENUE_LATENCY_MS": "-1"], ["SWAPLINE_MARKET_FILE": "/nonexistent.json"],
        ["SWAPLINE_WEBHOOK_RETRY_SCHEDULE": "30,,60"], ["SWAPLINE_WEBHOOK_TIMEOUT_SECONDS": "0"], ["SWAPLINE_WEBHOOK_CONCURRENCY": "many"],
        ["SWAPLINE_WEBHOOK_BLOCK_ERRORS": "0"], ["SWAPLINE_WEBHOOK_ROTATION_OVERLAP_SECONDS": "-5"],
        ["SWAPLINE_RATE_LIMIT_PER_SECOND": "-1"], ["SWAPLINE_RATE_LIMIT_PER_SECOND": "fast"], ["SWAPLINE_RATE_LIMIT_BURST": "0"],
        ["SWAPLINE_RATE_LIMIT_BURST": "1.5"], ["SWAPLINE_REQUEST_TIMEOUT_SECONDS": "0"], ["SWAPLINE_REQUEST_TIMEOUT_SECONDS": "soon"],
        ["SWAPLINE_DATABASE_POOL_SIZE": "1"], ["SWAPLINE_DATABASE_POOL_SIZE": "5"], ["SWAPLINE_DATABASE_POOL_SIZE": "big"],
    ])
    func aBadValueNamesItsKey(_ override: [String: String]) async throws {
        var environment = ["SWAPLINE_MASTER_KEY": Self.key]
        environment.merge(override) { $1 }
        do {
            _ = try await load(environment)
            Issue.record("accepted \(override)")
        } catch let error as SwaplineConfigurationError {
            #expect(error.key == override.keys.first)
        }
    }

    @Test func theMasterKeyIsRequired() async throws {
        await #expect(throws: SwaplineConfigurationError.self) { try await load([:]) }
    }
}
