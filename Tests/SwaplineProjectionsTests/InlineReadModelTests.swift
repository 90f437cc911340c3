import Crypto
import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineProjections
import SwaplineTestSupport
import Testing

@Suite("Inline read models against PostgreSQL")
struct InlineReadModelTests {
    static let secrets = SecretBox(masterKey: .init(data: Data(repeating: 5, count: 32)))

    struct Row: Equatable {
        var state: String
        var status: String
        var sourceAmount: String
        var destinationAmount: String
        var failureReason: String?
        var version: Int64
    }

    static func row(_ id: ExchangeID, _ client: PostgresClient) async throws -> Row? {
        let rows = try await client.query(
            """
            SELECT state, status, source_amount::text, destination_amount::text, failure_reason, stream_version
            FROM read.exchanges WHERE id = \(id)
            """)
        for try await (state, status, source, destination, reason, version) in rows.decode(
            (String, String, String, String, String?, Int64).self)
        {
            return Row(state: state, status: status, sourceAmount: source, destinationAmount: destination, failureReason: reason, version: version)
        }
        return nil
    }

    static func balances(_ account: AccountID, _ client: PostgresClient) async throws -> [String: (Decimal, Decimal)] {
        var result: [String: (Decimal, Decimal)] = [:]
        let rows = try await client.query(
            "SELECT currency, available::text, held::text FROM read.balances WHERE account_id = \(account.rawValue)")
        for try await (currency, available, held) in rows.decode((String, String, String).self) {
            result[currency] = (try Amount.parseSignedDecimal(available), try Amount.parseSignedDecimal(held))
        }
        return result
    }

    @Test func theReadModelsFollowEveryAppendInItsTransaction() async throws {
        try await TestDatabase.with { database in
            let logger = database.logger
            let accounts = AccountService(client: database.app, secrets: Self.secrets, market: .defaults, logger: logger)
            let exchanges = ExchangeService(client: database.app, market: .defaults, logger: logger)
            let merchant = try await accounts.create(name: "Read model")
            _ = try await accounts.deposit(account: merchant.account, currency: "USDT_TRX", amountText: "1000")
            let pair = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
            let metadata = EventMetadata(actor: "test")
            let completing = try await exchanges.create(
                account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "100"), metadata: metadata)

            // Visible as soon as the create returned: the row was written in its transaction.
            let created = try await Self.row(completing.id, database.app)
            #expect(created?.state == "IN_PROGRESS")
            #expect(created?.sourceAmount == "100")
            let held = try await Self.balances(merchant.account, database.app)["USDT_TRX"]
            #expect(held?.0 == 900)
            #expect(held?.1 == 100)

            let venue = SimulatedVenue(client: database.app, logger: logger)
            let worker = ExecutionWorker(client: database.app, venue: venue, market: .defaults, logger: logger)
            let rejecting = ExecutionWorker(
                client: database.app, venue: SimulatedVenue(client: database.app, failureRate: 1, logger: logger), market: .defaults, logger: logger)
            _ = try await eventually("first exchange completed") {
                try await worker.runOnce()
                let row = try await Self.row(completing.id, database.app)
                return row?.state == "COMPLETED" ? row : nil
            }
            // A second exchange, rejected by the venue, ends FAILED with its reason.
            let failing = try await exchanges.create(
                account: merchant.account, request: CreateExchangeRequest(pair: pair, amountText: "50"), metadata: metadata)
            let failedRow = try await eventually("second exchange failed") {
                try await rejecting.runOnce()
                let row = try await Self.row(failing.id, database.app)
                return row?.state == "FAILED" ? row : nil
            }
            #expect(failedRow.failureReason == "VENUE_REJECTED")
            let completedRow = try #require(try await Self.row(completing.id, database.app))
            let replayed = try await exchanges.get(account: merchant.account, id: completing.id)
            #expect(completedRow.status == "completed")
            #expect(try Amount.parseDecimal(completedRow.destinationAmount) == replayed.request.price.destinationAmount)
            #expect(completedRow.version == 4)

            // Every balance row equals the account aggregate replayed from its events.
            let state = try await accounts.state(of: merchant.account)
            let rows = try await Self.balances(merchant.account, database.app)
            for currency in state.currencies {
                let row = rows[currency.code]
                #expect(row?.0 == state.availableBalance(currency), "\(currency)")
                #expect(row?.1 == state.heldBalance(currency), "\(currency)")
            }
        }
    }

    @Test func aRolledBackAppendLeavesNoReadModelRow() async throws {
        try await TestDatabase.with { database in
            let store = EventStore.withReadModels(client: database.app, logger: database.logger)
            let price = Price(
                pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), direction: .sell, sourceAmount: 100, destinationAmount: 1, rate: 1, fee: 0)
            let account = try #require(AccountID("0x" + String(repeating: "ab", count: 20)))
            let event = ExchangeEvent.requested(ExchangeRequested(id: 77, account: account, price: price, requestedAt: Date()))
            let newEvent = try Streams.newEvent(event, metadata: EventMetadata(actor: "test"))
            struct Abort: Error {}
            await #expect(throws: (any Error).self) {
                try await database.app.withTransaction(logger: database.logger) { connection in
                    _ = try await store.append([StreamAppend(streamId: "exchange-77", expectedVersion: .noStream, events: [newEvent])], on: connection)
                    throw Abort()
                }
            }
            #expect(try await Self.row(77, database.app) == nil)
            try await store.append([StreamAppend(streamId: "exchange-77", expectedVersion: .noStream, events: [newEvent])])
            #expect(try await Self.row(77, database.app)?.state == "IN_PROGRESS")
        }
    }

    /// The read models' writes are part of the append's one statement: when they fail, nothing of
    /// the append is stored, and an append committed together with it (group commit) still is.
    @Test func anAppendWhoseReadModelsFailStoresNothingAndFailsAlone() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger, projecting: AppendWithReadModels.self, groupCommit: true)
            let account = try #require(AccountID("0x" + String(repeating: "cd", count: 20)))
            func request(_ id: ExchangeID) throws -> StreamAppend {
                let price = Price(
                    pair: CurrencyPair(Currency("USDT_TRX"), Currency("BTC")), direction: .sell, sourceAmount: 100, destinationAmount: 1, rate: 1,
                    fee: 0)
                let event = ExchangeEvent.requested(ExchangeRequested(id: id, account: account, price: price, requestedAt: Date()))
                return StreamAppend(
                    streamId: "exchange-\(id)", expectedVersion: .noStream, events: [try Streams.newEvent(event, metadata: EventMetadata(actor: "test"))])
            }
            // A schema version this build cannot read: the exchanges model refuses the event.
            var unreadable = try request(79)
            unreadable.events[0].schemaVersion = 2
            async let stored = store.append([try request(78)])
            async let refused = #expect(throws: (any Error).self) { try await store.append([unreadable]) }
            #expect(try await stored.count == 1)
            #expect(String(reflecting: await refused).contains("schema version 2"))
            #expect(try await Self.row(78, database.app)?.state == "IN_PROGRESS")
            #expect(try await Self.row(79, database.app) == nil)
            #expect(try await store.readStream("exchange-79").isEmpty)
        }
    }
}
