import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SwaplineAPI
import SwaplineApplication
import SwaplineNotifier
import Synchronization

/// `swapline demo`: walks the README's flow against a running server as a Calypso client would,
/// while a webhook receiver of its own on 127.0.0.1 prints what it gets, signatures verified.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk the exchange flow against a running server and print the webhooks it sends, signatures verified.",
        discussion: """
            Uses the demo account of `swapline accounts demo` (./scripts/run writes .swapline/demo.json). The webhooks go to a \
            receiver this command runs on 127.0.0.1, so the server must allow loopback webhooks: \
            SWAPLINE_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 (./scripts/run sets it).
            """
    )

    @Option(help: "The server URL (default: the credentials file's, else http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "The demo credentials, as `swapline accounts demo` writes them.")
    var credentials = ".swapline/demo.json"

    @Option(help: "How much USDT_TRX to sell for BTC.")
    var amount = "100"

    @Option(help: "Seconds to wait for the exchange to finish and its webhooks to arrive.")
    var timeout = 60

    static let loopbackHint =
        "the server must allow loopback webhooks: start it with SWAPLINE_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 (./scripts/run does), "
        + "otherwise its SSRF guard refuses 127.0.0.1 (error 110), and run its notifier role"

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let merchant = try DemoClient.Merchant(file: credentials)
        let base = (url ?? merchant.url ?? "http://127.0.0.1:8080").trimmingSuffix("/")
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let client = DemoClient(http: http, base: base, merchant: merchant)
        do {
            try await DemoReceiver.with { receiver, hookURL in
                try await walk(client, receiver: receiver, hookURL: hookURL)
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    func walk(_ client: DemoClient, receiver: DemoReceiver, hookURL: String) async throws {
        print("server \(client.base), account \(client.merchant.account)")
        let account = try await client.call("account")
        let balances = account["balances"]?.elements.map { "\($0.text("amount")) \($0.text("currency")) (held \($0.text("held")))" } ?? []
        print("POST /api/v1/account              balances: \(balances.joined(separator: ", "))")

        let pairs = try await client.call("exchange/pairs")
        var pairNames: [String] = []
        if case .object(let sources)? = pairs["currencyPairs"] {
            for (source, destinations) in sources {
                for destination in destinations.elements { pairNames.append("\(source)→\(destination.text("name"))") }
            }
        }
        print("POST /api/v1/exchange/pairs       \(pairNames.count) pairs: \(pairNames.joined(separator: ", "))")

        let pair: [(String, JSONValue)] = [("sourceCurrency", .string("USDT_TRX")), ("destinationCurrency", .string("BTC"))]
        let limit = try await client.call("exchange/limit", .object(pair))
        print("POST /api/v1/exchange/limit       USDT_TRX→BTC: min \(limit.text("minAmount")), max \(limit.text("maxAmount")) USDT_TRX")

        let quote = try await client.call(
            "exchange/pre-calculate", .object(pair + [("amount", .number(amount)), ("direction", .string("SELL"))]))
        let quoteId = quote.text("quoteId")
        print(
            "POST /api/v1/exchange/pre-calculate  \(quote.text("sourceAmount")) USDT_TRX → \(quote.text("destinationAmount")) BTC "
                + "(rate \(quote.text("rate")), fee \(quote.text("fee"))), quoteId \(quoteId), expiresAt \(quote.text("expiresAt"))")

        let requestId = UUID().uuidString.lowercased()
        let eventTypes = ["EXCHANGE_CREATED", "EXCHANGE_COMPLETED", "EXCHANGE_FAILED"]
        let subscription: JSONValue
        do {
            subscription = try await client.call(
                "subscription/webhook/create",
                .object([
                    ("requestId", .string(requestId)), ("notificationEventTypes", .array(eventTypes.map { .string($0) })),
                    ("url", .string(hookURL)),
                ]))
        } catch let failure as DemoFailure where failure.errorCode == "110" {
            throw DemoFailure("\(failure.description)\n\(Self.loopbackHint)")
        }
        print(
            "POST /api/v1/subscription/webhook/create  \(requestId) → \(hookURL) (\(eventTypes.joined(separator: ", "))), "
                + "state \(subscription.text("state"))")
        let secretKey = subscription.text("secretKey")
        let webhookSecret = subscription.text("webhookSecret")

        do {
            try await exchangeAndWebhooks(
                client, receiver: receiver, pair: pair, quoteId: quoteId, secretKey: secretKey, webhookSecret: webhookSecret)
        } catch {
            _ = try? await client.call("subscription/webhook/delete", .object([("requestId", .string(requestId))]))
            throw error
        }
        let deleted = try await client.call("subscription/webhook/delete", .object([("requestId", .string(requestId))]))
        print("POST /api/v1/subscription/webhook/delete  \(requestId) deleted: \(deleted.text("deleted"))")
    }

    func exchangeAndWebhooks(
        _ client: DemoClient, receiver: DemoReceiver, pair: [(String, JSONValue)], quoteId: String, secretKey: String, webhookSecret: String
    ) async throws {
        let created = try await client.call(
            "exchange/create",
            .object(
                pair + [
                    ("amount", .number(amount)), ("quoteId", .string(quoteId)),
                    ("idempotencyKey", .string("demo-\(UUID().uuidString.lowercased())")),
                ]))
        let idText = created.text("id")
        guard let id = Int64(idText) else { throw DemoFailure("exchange/create answered no exchange id: \(created.serialized())") }
        print(
            "POST /api/v1/exchange/create      exchange \(id) \(created.text("state")): \(created.text("sourceAmount")) USDT_TRX → "
                + "\(created.text("destinationAmount")) BTC")

        let started = ContinuousClock.now
        let deadline = started + .seconds(timeout)
        var exchange = created
        var polls = 0
        while !["COMPLETED", "FAILED"].contains(exchange.text("state")) {
            guard ContinuousClock.now < deadline else {
                throw DemoFailure("exchange \(id) is still \(exchange.text("state")) after \(timeout) s: is the server's execution worker running?")
            }
            try await Task.sleep(for: .milliseconds(200))
            exchange = try await client.call("exchange/get", .object([("id", .number(idText))]))
            polls += 1
        }
        let took = ContinuousClock.now - started
        let elapsed = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        var outcome = "POST /api/v1/exchange/get         exchange \(id) \(exchange.text("state")): sold \(exchange.text("sourceAmount")) USDT_TRX, "
        outcome += "received \(exchange.text("destinationAmount")) BTC, fee \(exchange.text("fee")) USDT_TRX"
        if exchange.text("state") == "FAILED" { outcome += ", failureReason \(exchange.text("failureReason"))" }
        outcome += String(format: " (%d polls, %.1f s)", polls, elapsed)
        print(outcome)

        let outcomeEvent = exchange.text("state") == "COMPLETED" ? "EXCHANGE_COMPLETED" : "EXCHANGE_FAILED"
        var webhooks: [String: DemoReceiver.Received] = [:]
        while webhooks["EXCHANGE_CREATED"] == nil || webhooks[outcomeEvent] == nil {
            for received in receiver.received where received.exchangeId == idText && webhooks[received.eventType] == nil {
                webhooks[received.eventType] = received
            }
            if webhooks["EXCHANGE_CREATED"] != nil && webhooks[outcomeEvent] != nil { break }
            guard ContinuousClock.now < deadline else {
                let got = webhooks.keys.sorted()
                throw DemoFailure(
                    "the webhooks of exchange \(id) did not arrive within \(timeout) s (got: \(got.isEmpty ? "none" : got.joined(separator: ", ")); "
                        + "expected EXCHANGE_CREATED and \(outcomeEvent)): \(Self.loopbackHint)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }

        var allValid = true
        for eventType in ["EXCHANGE_CREATED", outcomeEvent] {
            let webhook = webhooks[eventType]!
            let sign = CalypsoSignature.isValid(signature: webhook.header("sign"), body: webhook.body, secret: secretKey)
            let standard = WebhookSignature.verifyStandard(
                header: webhook.header("webhook-signature"), webhookId: webhook.header("webhook-id"),
                timestamp: Int64(webhook.header("webhook-timestamp")) ?? 0, body: webhook.body, secret: webhookSecret)
            allValid = allValid && sign && standard
            let data = webhook.json["data"] ?? .null
            print(
                "webhook \(eventType.padding(toLength: 18, withPad: " ", startingAt: 0)) sequence \(data.text("sequence")), "
                    + "exchange \(data.text("id")) \(data.text("state")): \(data.text("sourceAmount")) \(data.text("sourceCurrency")) → "
                    + "\(data.text("destinationAmount")) \(data.text("destinationCurrency"))  "
                    + "Sign \(sign ? "✓" : "✗")  webhook-signature \(standard ? "✓" : "✗")")
        }
        guard allValid else {
            throw DemoFailure("a webhook signature did not verify against the subscription's secretKey or webhookSecret")
        }
    }
}

/// What went wrong, as printed; `errorCode` is Calypso's when the server answered one.
struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    var errorCode: String?

    init(_ description: String, errorCode: String? = nil) {
        self.description = description
        self.errorCode = errorCode
    }
}

/// A Calypso client: the body is serialized once, and those exact bytes are signed and sent.
final class DemoClient: Sendable {
    struct Merchant: Sendable {
        var account: String
        var key: String
        var secret: String
        var url: String?

        /// The file `swapline accounts demo` writes: `{"account", "key", "secret", "url"}`.
        init(file: String) throws {
            let missing = "no demo credentials in \(file): run ./scripts/run (it writes .swapline/demo.json) or `swapline accounts demo --file \(file)`"
            guard let data = FileManager.default.contents(atPath: file) else { throw DemoFailure(missing) }
            guard let document = try? JSONParser.parse([UInt8](data)), case .string(let account)? = document["account"],
                case .string(let key)? = document["key"], case .string(let secret)? = document["secret"]
            else { throw DemoFailure("\(file) is not a demo credentials file (account, key, secret): \(missing)") }
            self.account = account
            self.key = key
            self.secret = secret
            if case .string(let url)? = document["url"] { self.url = url }
        }
    }

    let http: HTTPClient
    let base: String
    let merchant: Merchant
    private let lastTimestamp = Mutex<Int64>(0)

    init(http: HTTPClient, base: String, merchant: Merchant) {
        self.http = http
        self.base = base
        self.merchant = merchant
    }

    /// Milliseconds since 1970, never the same twice (a repeated key and signature is a replay).
    func timestamp() -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return lastTimestamp.withLock { last in
            last = max(now, last + 1)
            return last
        }
    }

    /// POSTs one signed request to /api/v1/`method`; the answer, or a `DemoFailure` with the error body.
    func call(_ method: String, _ payload: JSONValue = .object([])) async throws -> JSONValue {
        let body = JSONValue.object([
            ("account", .string(merchant.account)), ("timestamp", .number(String(timestamp()))), ("payload", payload),
        ]).serialized()
        var request = HTTPClientRequest(url: "\(base)/api/v1/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Key", value: merchant.key)
        request.headers.add(name: "Sign", value: CalypsoSignature.sign(body: Array(body.utf8), secret: merchant.secret))
        request.body = .bytes(ByteBuffer(string: body))
        let text: String
        let status: UInt
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            status = response.status.code
        } catch {
            throw DemoFailure("cannot reach \(base): \(error) (is the server running? ./scripts/run starts it)")
        }
        let answer = try? JSONParser.parse(Array(text.utf8))
        guard status == 200, let answer else {
            var errorCode: String?
            if case .string(let code)? = answer?["errorCode"] { errorCode = code }
            throw DemoFailure("POST /api/v1/\(method) → HTTP \(status): \(text)", errorCode: errorCode)
        }
        return answer
    }
}

/// The merchant's webhook endpoint: a Hummingbird server on 127.0.0.1 (a free port) that keeps
/// every request it gets.
final class DemoReceiver: Sendable {
    struct Received: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var json: JSONValue

        func header(_ name: String) -> String { headers[name] ?? "" }
        var eventType: String { json.text("eventType") }
        var exchangeId: String { (json["data"] ?? .null).text("id") }
    }

    private let log = Mutex<[Received]>([])
    var received: [Received] { log.withLock { $0 } }

    /// Runs the receiver for `body`, giving it the URL to subscribe.
    static func with<T: Sendable>(_ body: @Sendable (DemoReceiver, String) async throws -> T) async throws -> T {
        let receiver = DemoReceiver()
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let bytes = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
            let json = (try? JSONParser.parse(bytes)) ?? .null
            receiver.log.withLock { $0.append(Received(headers: headers, body: bytes, json: json)) }
            return Response(status: .ok)
        }
        do {
            return try await LoopbackServer.with(router: router, label: "swapline.demo.receiver") { port in
                try await body(receiver, "http://127.0.0.1:\(port)/hook")
            }
        } catch is LoopbackServer.DidNotStart {
            throw DemoFailure("the webhook receiver did not start on 127.0.0.1")
        }
    }
}

fileprivate extension JSONValue {
    /// A member as printed: a string's text, a number's literal, "null", or "?" when missing.
    func text(_ key: String) -> String {
        switch self[key] {
        case .string(let text)?: text
        case .number(let text)?: text
        case .bool(let value)?: String(value)
        case .null?: "null"
        case let value?: value.serialized()
        case nil: "?"
        }
    }

    var elements: [JSONValue] {
        if case .array(let values) = self { return values }
        return []
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
