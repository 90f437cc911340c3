import Foundation
import Hummingbird
import Logging
import SwaplineApplication
import SwaplineDomain

/// The Calypso methods under /api/v1: account, pairs, limit, pre-calculate, create, get.
struct ExchangeController<Context: RequestContext>: Sendable {
    let accounts: AccountService
    let exchanges: ExchangeService
    let queries: ExchangeQueries
    let statistics: StatisticsQueries
    let authenticator: RequestAuthenticator
    /// exchange/get's last bodies, rendered once per version.
    let renderedBodies = RenderedExchangeBodies()
    var market: Market { exchanges.market }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/v1/account") { request, _ in try await self.account(request) }
        router.post("/api/v1/exchange/pairs") { request, _ in try await self.pairs(request) }
        router.post("/api/v1/exchange/limit") { request, _ in try await self.limit(request) }
        router.post("/api/v1/exchange/pre-calculate") { request, _ in try await self.preCalculate(request) }
        router.post("/api/v1/exchange/create") { request, context in try await self.create(request, context: context) }
        router.post("/api/v1/exchange/get") { request, _ in try await self.get(request) }
        router.post("/api/v1/exchange/list") { request, _ in try await self.list(request) }
        router.post("/api/v1/exchange/stats") { request, _ in try await self.stats(request) }
    }

    func account(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let state = try await accounts.state(of: signed.account)
        let currencies = Set(market.currencies.keys).union(state.available.keys).union(state.held.keys).sorted()
        let balances: [JSONValue] = currencies.map { currency in
            .object([
                ("currency", .string(currency.code)),
                ("amount", Render.amount(state.availableBalance(currency), currency, market)),
                ("held", Render.amount(state.heldBalance(currency), currency, market)),
            ])
        }
        return .json(
            .object([
                ("account", .string(signed.account.rawValue)),
                ("name", .string(state.name)),
                ("ownerId", .string(signed.account.rawValue)),
                ("balances", .array(balances)),
            ]))
    }

    func pairs(_ request: Request) async throws -> Response {
        _ = try await authenticator.authenticate(request)
        let now = exchanges.now()
        var bySource: [Currency: [JSONValue]] = [:]
        for rule in market.pairs.values.sorted(by: { $0.pair.description < $1.pair.description }) {
            guard let destination = market.currencies[rule.pair.destination] else { continue }
            let active = (try? market.currentRate(rule.pair, now: now)) != nil
            bySource[rule.pair.source, default: []].append(
                .object([
                    ("name", .string(destination.currency.code)),
                    ("scale", .number(String(destination.scale))),
                    ("crypto", .bool(destination.isCrypto)),
                    ("enabled", .bool(rule.isEnabled)),
                    ("active", .bool(active)),
                ]))
        }
        let members = bySource.keys.sorted().map { ($0.code, JSONValue.array(bySource[$0]!)) }
        return .json(.object([("currencyPairs", .object(members))]))
    }

    func limit(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let pair = try signed.payload.pair(market: market)
        let limits = try await exchanges.limits(account: signed.account, pair: pair)
        return .json(
            .object([
                ("sourceCurrency", .string(pair.source.code)),
                ("destinationCurrency", .string(pair.destination.code)),
                ("minAmount", Render.amount(limits.minAmount, pair.source, market)),
                ("maxAmount", Render.amount(limits.maxAmount, pair.source, market)),
            ]))
    }

    func preCalculate(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let pair = try signed.payload.pair(market: market)
        let direction = try signed.payload.direction()
        guard let amount = try signed.payload.optionalAmountText("amount") else { throw SwaplineError.badRequest("payload.amount is required") }
        let quote = try await exchanges.preCalculate(account: signed.account, pair: pair, amountText: amount, direction: direction)
        let price = quote.price
        return .json(
            .object([
                ("sourceCurrency", .string(pair.source.code)),
                ("sourceAmount", Render.amount(price.sourceAmount, pair.source, market)),
                ("destinationCurrency", .string(pair.destination.code)),
                ("destinationAmount", Render.amount(price.destinationAmount, pair.destination, market)),
                ("rate", .number(price.rate.plainText)),
                ("fee", Render.amount(price.fee, pair.source, market)),
                ("direction", .string(direction.rawValue)),
                ("quoteId", .string(quote.id.uuidString.lowercased())),
                ("expiresAt", .string(Timestamp.format(quote.expiresAt))),
            ]))
    }

    func create(_ request: Request, context: Context) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let pair = try payload.pair(market: market)
        var quoteId: UUID?
        if let text = try payload.optionalString("quoteId", maxLength: 64) {
            guard let id = UUID(uuidString: text) else { throw SwaplineError.badRequest("payload.quoteId is not a UUID") }
            quoteId = id
        }
        let idempotencyKey = try payload.optionalString("idempotencyKey", maxLength: 64)
        if let idempotencyKey, idempotencyKey.isEmpty {
            throw SwaplineError.badRequest("payload.idempotencyKey must be 1 to 64 characters")
        }
        let createRequest = CreateExchangeRequest(
            pair: pair,
            amountText: try payload.optionalAmountText("amount"),
            direction: try payload.direction(),
            quoteId: quoteId,
            idempotencyKey: idempotencyKey
        )
        let state = try await exchanges.create(
            account: signed.account, request: createRequest,
            metadata: EventMetadata(actor: "api-key:\(signed.key)", requestId: signed.requestId))
        context.logger.info("exchange created", metadata: ["exchange_id": "\(state.id)", "account": "\(signed.account.rawValue)"])
        return .json(Render.exchange(ExchangeView(state), market: market))
    }

    func get(_ request: Request) async throws -> Response {
        // The replay guard's record goes with the read, in one statement (ExchangeQueries.get).
        let (signed, seen) = try await authenticator.authenticateUnrecorded(request)
        let id: ExchangeID
        do {
            id = try signed.payload.identifier("id")
        } catch {
            try await authenticator.record(seen)
            throw error
        }
        let kept = renderedBodies.body(of: id)
        let body: ByteBuffer
        switch (try await queries.get(account: signed.account, id: id, unlessVersion: kept?.version, recording: seen), kept) {
        case (.found(let view, let version), _):
            body = ByteBuffer(string: Render.exchange(view, market: market).serialized())
            renderedBodies.keep(body, of: id, version: version)
        case (.unchanged, let kept?):
            body = kept.body
        case (.unchanged, nil):
            preconditionFailure("only a known version is answered unchanged")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }

    func list(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        var filter = ExchangeFilter()
        if let state = try payload.optionalString("state", maxLength: 16) {
            guard ["IN_PROGRESS", "COMPLETED", "FAILED"].contains(state) else {
                throw SwaplineError.badRequest("payload.state must be IN_PROGRESS, COMPLETED or FAILED")
            }
            filter.state = state
        }
        if payload.has("sourceCurrency") { filter.sourceCurrency = try payload.currency("sourceCurrency", market: market) }
        if payload.has("destinationCurrency") {
            filter.destinationCurrency = try payload.currency("destinationCurrency", market: market)
        }
        filter.createdFrom = try payload.optionalTime("createdFrom")
        filter.createdTo = try payload.optionalTime("createdTo")
        var limit = 100
        if let text = try payload.optionalAmountText("limit") {
            guard let number = Int(text), (1...ExchangeQueries.maximumPageSize).contains(number) else {
                throw SwaplineError.badRequest("payload.limit must be an integer from 1 to \(ExchangeQueries.maximumPageSize)")
            }
            limit = number
        }
        let page = try await queries.list(
            account: signed.account, filter: filter, cursor: try payload.optionalString("cursor", maxLength: 100), limit: limit)
        return .json(
            .object([
                ("exchanges", .array(page.exchanges.map { Render.exchange($0, market: market) })),
                ("nextCursor", page.nextCursor.map { .string($0) } ?? .null),
            ]))
    }

    func stats(_ request: Request) async throws -> Response {
        let signed = try await authenticator.authenticate(request)
        let payload = signed.payload
        let source = payload.has("sourceCurrency") ? try payload.currency("sourceCurrency", market: market) : nil
        let destination = payload.has("destinationCurrency") ? try payload.currency("destinationCurrency", market: market) : nil
        let days = try await statistics.daily(
            account: signed.account, from: try payload.string("from", maxLength: 10), to: try payload.string("to", maxLength: 10),
            source: source, destination: destination)
        let seconds = { (value: Decimal?) in value.map { JSONValue.number($0.text(scale: 3)) } ?? .null }
        return .json(
            .object([
                (
                    "days",
                    .array(
                        days.map { day in
                            .object([
                                ("date", .string(day.day)),
                                ("sourceCurrency", .string(day.pair.source.code)),
                                ("destinationCurrency", .string(day.pair.destination.code)),
                                ("count", .number(String(day.created))),
                                ("completed", .number(String(day.completed))),
                                ("failed", .number(String(day.failed))),
                                ("sourceVolume", Render.amount(day.sourceVolume, day.pair.source, market)),
                                ("destinationVolume", Render.amount(day.destinationVolume, day.pair.destination, market)),
                                ("fees", Render.amount(day.fees, day.pair.source, market)),
                                ("failureReasons", .object(day.failureReasons.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })),
                                ("completionSeconds", .object([("p50", seconds(day.p50)), ("p95", seconds(day.p95)), ("p99", seconds(day.p99))])),
                            ])
                        })
                )
            ]))
    }
}
