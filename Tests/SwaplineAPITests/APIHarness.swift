import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineNotifier
import SwaplineTestSupport
import Synchronization
import Testing

/// A clock tests can move.
final class TestClock: Sendable {
    private let current = Mutex(Date())
    private let calls = Atomic<Int64>(0)
    var now: Date { current.withLock { $0 } }
    func advance(seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    /// A distinct millisecond timestamp per call: a real client's clock moves between requests,
    /// and two identical signed bodies are a replay by design.
    func nextTimestamp() -> Int64 {
        Int64((now.timeIntervalSince1970 * 1000).rounded()) + calls.add(1, ordering: .relaxed).newValue
    }
}

struct Merchant: Sendable {
    var account: AccountID
    var key: String
    var secret: String
}

struct APIResponse {
    var status: Int
    var json: JSONValue

    var errorCode: String? {
        if case .string(let code)? = json["errorCode"] { return code }
        return nil
    }

    func string(_ key: String) -> String? {
        if case .string(let text)? = json[key] { return text }
        return nil
    }

    /// A number member as its exact text.
    func number(_ key: String) -> String? {
        if case .number(let text)? = json[key] { return text }
        return nil
    }
}

/// The API on a fresh database: the same router the server runs, driven in process.
struct APIHarness: Sendable {
    let database: TestDatabase
    let accounts: AccountService
    let exchanges: ExchangeService
    let clock: TestClock
    let client: any TestClientProtocol
    let market: Market

    static let masterKey = SecretBox(masterKey: .init(data: Data(repeating: 7, count: 32)))

    /// The only names webhook tests may use: resolved by this table, never by DNS.
    static let webhookHosts = StaticHostResolver([
        "hooks.merchant.test": ["93.184.215.14"],
        "other.merchant.test": ["2606:4700:4700::1111"],
        "rebind.merchant.test": ["127.0.0.1"],
    ])

    static func with(
        market: Market = .defaults, webhookAllowedNetworks: [IPNetwork] = [], rateLimiter: KeyRateLimiter? = nil,
        _ body: @Sendable (APIHarness) async throws -> Void
    ) async throws {
        try await TestDatabase.with { database in
            let clock = TestClock()
            let now: @Sendable () -> Date = { clock.now }
            let accounts = AccountService(client: database.app, secrets: masterKey, market: market, logger: database.logger, now: now)
            let exchanges = ExchangeService(client: database.app, market: market, logger: database.logger, now: now)
            let subscriptions = SubscriptionService(
                client: database.app, secrets: masterKey, ssrfGuard: SSRFGuard(allowedNetworks: webhookAllowedNetworks, resolver: webhookHosts),
                logger: database.logger, now: now)
            let router = buildRouter(
                APIDependencies(
                    accounts: accounts, exchanges: exchanges, now: now, subscriptions: subscriptions, rateLimiter: rateLimiter,
                    // Contention tests on a loaded CI machine may take longer than serve's 10 s;
                    // the deadline itself is tested against a serve process (ShutdownTests).
                    requestTimeout: .seconds(120)))
            let app = Application(router: router, logger: database.logger)
            try await app.test(.router) { client in
                try await body(
                    APIHarness(database: database, accounts: accounts, exchanges: exchanges, clock: clock, client: client, market: market))
            }
        }
    }

    /// A new account holding the given balances.
    func merchant(_ balances: [(String, String)] = [("USDT_TRX", "10000"), ("BTC", "1")]) async throws -> Merchant {
        let issued = try await accounts.create(name: "Test merchant")
        for (currency, amount) in balances {
            _ = try await accounts.deposit(account: issued.account, currency: Currency(currency), amountText: amount)
        }
        return Merchant(account: issued.account, key: issued.key, secret: issued.secret)
    }

    func worker(venue: (any Venue)? = nil) -> ExecutionWorker {
        ExecutionWorker(
            client: database.app,
            venue: venue ?? SimulatedVenue(client: database.app, logger: database.logger),
            market: market, logger: database.logger, now: { clock.now })
    }

    func timestamp() -> Int64 { clock.nextTimestamp() }

    /// The Calypso envelope around a payload given as JSON text.
    func body(_ merchant: Merchant, payload: String = "{}", timestamp: Int64? = nil) -> String {
        #"{"account":"\#(merchant.account.rawValue)","timestamp":\#(timestamp ?? self.timestamp()),"payload":\#(payload)}"#
    }

    /// A signed call, as a Calypso client makes it.
    func call(_ path: String, _ merchant: Merchant, payload: String = "{}", timestamp: Int64? = nil) async throws -> APIResponse {
        let body = body(merchant, payload: payload, timestamp: timestamp)
        return try await raw(path, body: body, key: merchant.key, sign: CalypsoSignature.sign(body: Data(body.utf8), secret: merchant.secret))
    }

    /// A call with exactly the given body and headers.
    func raw(_ path: String, body: String, key: String?, sign: String?) async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("Key")!] = key }
        if let sign { headers[HTTPField.Name("Sign")!] = sign }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            let bytes = Array(response.body.readableBytesView)
            let json = (try? JSONParser.parse(bytes)) ?? .null
            #expect(json != .null, "every response has a JSON body: \(String(decoding: bytes, as: UTF8.self))")
            return APIResponse(status: Int(response.status.code), json: json)
        }
    }

    /// Runs the worker until the exchange is finished and returns its final object.
    func settle(_ merchant: Merchant, id: String, worker: ExecutionWorker? = nil) async throws -> APIResponse {
        let worker = worker ?? self.worker()
        return try await eventually("exchange \(id) finished") {
            try await worker.runOnce()
            let response = try await call("/api/v1/exchange/get", merchant, payload: #"{"id": \#(id)}"#)
            return response.string("state") == "IN_PROGRESS" ? nil : response
        }
    }

    func balance(_ merchant: Merchant, _ currency: String) async throws -> (available: Decimal, held: Decimal) {
        let state = try await accounts.state(of: merchant.account)
        return (state.availableBalance(Currency(currency)), state.heldBalance(Currency(currency)))
    }
}

func decimal(_ text: String?) -> Decimal? {
    text.flatMap { try? Amount.parseDecimal($0) }
}
