import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineAudit
import SwaplineDomain
import SwaplineEventStore
import SwaplineExecution
import SwaplineTestSupport

/// Decimal from text: float literals would go through Double, which money must never touch.
func dec(_ text: String) -> Decimal {
    guard let value = try? Amount.parseSignedDecimal(text) else {
        preconditionFailure("bad decimal literal \(text)")
    }
    return value
}

let usdt: Currency = "USDT_TRX"
let btc: Currency = "BTC"
let usdtBTC = CurrencyPair(usdt, btc)

/// The history every audit test starts from.
struct BuiltHistory: Sendable {
    /// Opened, deposits 1000 and 500 USDT_TRX, withdraws 50, then one completed and one failed exchange of 100.
    var account: AccountID
    /// A second account with a BTC deposit only, so conservation spans several accounts.
    var other: AccountID
    /// COMPLETED: Requested, Quoted, Submitted, Completed; the account has FundsHeld and ExchangeSettled.
    var completed: ExchangeState
    /// FAILED (venue rejected): Requested, Quoted, Submitted, Failed; the account has FundsHeld and HoldReleased.
    var failed: ExchangeState

    var accountStream: String { Streams.account(account) }
    var completedStream: String { Streams.exchange(completed.id) }
    var failedStream: String { Streams.exchange(failed.id) }
}

/// Services, the audit log and tampering tools over one test database.
struct AuditHarness: Sendable {
    let database: TestDatabase
    let accounts: AccountService
    let exchanges: ExchangeService
    /// The audit log as the service's runtime role sees the store (SELECT on events and heads).
    let audit: AuditLog

    init(_ database: TestDatabase) throws {
        self.database = database
        let secrets = try SecretBox(base64MasterKey: SecretBox.generateMasterKey())
        accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
        exchanges = ExchangeService(client: database.app, market: .defaults, logger: database.logger)
        audit = AuditLog(client: database.app, logger: database.logger)
    }

    func buildHistory() async throws -> BuiltHistory {
        let account = try await accounts.create(name: "audited merchant").account
        _ = try await accounts.deposit(account: account, currency: usdt, amountText: "1000")
        _ = try await accounts.deposit(account: account, currency: usdt, amountText: "500")
        _ = try await accounts.withdraw(account: account, currency: usdt, amountText: "50")
        let other = try await accounts.create(name: "other merchant").account
        _ = try await accounts.deposit(account: other, currency: btc, amountText: "0.5")

        let completed = try await finish(try await create(account), failureRate: "0")
        let failed = try await finish(try await create(account), failureRate: "1")
        return BuiltHistory(account: account, other: other, completed: completed, failed: failed)
    }

    func create(_ account: AccountID, amount: String = "100") async throws -> ExchangeState {
        try await exchanges.create(
            account: account, request: CreateExchangeRequest(pair: usdtBTC, amountText: amount), metadata: EventMetadata(actor: "test"))
    }

    /// Runs a worker on a simulated venue that fills (0) or rejects (1) until the exchange is terminal.
    func finish(_ exchange: ExchangeState, failureRate: String) async throws -> ExchangeState {
        let venue = SimulatedVenue(client: database.app, failureRate: dec(failureRate), logger: database.logger)
        let worker = ExecutionWorker(client: database.app, venue: venue, market: .defaults, logger: database.logger)
        return try await eventually("exchange \(exchange.id) finished") {
            try await worker.runOnce()
            let state = try await exchanges.get(account: exchange.request.account, id: exchange.id)
            return state.status.isTerminal ? state : nil
        }
    }

    /// Runs `statements` as the superuser with the tables' user triggers (immutability, chain) off,
    /// as an attacker with the owner's password would.
    func tamper(_ statements: [String]) async throws {
        let logger = database.logger
        try await database.owner.withTransaction(logger: logger) { connection in
            try await connection.query("ALTER TABLE events DISABLE TRIGGER USER", logger: logger)
            try await connection.query("ALTER TABLE stream_heads DISABLE TRIGGER USER", logger: logger)
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("ALTER TABLE events ENABLE TRIGGER USER", logger: logger)
            try await connection.query("ALTER TABLE stream_heads ENABLE TRIGGER USER", logger: logger)
        }
    }

    /// SQL that recomputes a stream's whole hash chain with the database's own formula and moves its
    /// head to the last event: what a careful attacker does after editing or deleting events.
    static func rechain(_ streamId: String) -> String {
        """
        DO $$
        DECLARE
            r events;
            previous bytea := '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        BEGIN
            FOR r IN SELECT * FROM events WHERE stream_id = '\(streamId)' ORDER BY stream_version LOOP
                r.prev_hash := previous;
                r.hash := sha256(previous || convert_to(event_canonical_text(r), 'UTF8'));
                UPDATE events SET prev_hash = r.prev_hash, hash = r.hash WHERE global_position = r.global_position;
                previous := r.hash;
            END LOOP;
            UPDATE stream_heads SET last_hash = previous,
                last_version = (SELECT max(stream_version) FROM events WHERE stream_id = '\(streamId)'),
                last_position = (SELECT global_position FROM events WHERE stream_id = '\(streamId)' ORDER BY stream_version DESC LIMIT 1)
            WHERE stream_id = '\(streamId)';
        END $$
        """
    }

    func scalar<Value: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: Value.Type) async throws -> Value? {
        let rows = try await database.owner.query(query, logger: database.logger)
        for try await value in rows.decode(Value.self) { return value }
        return nil
    }

    func eventCount() async throws -> Int {
        Int(try await scalar("SELECT count(*) FROM events", as: Int64.self) ?? 0)
    }

    func eventTypes(_ streamId: String) async throws -> [String] {
        let rows = try await database.owner.query(
            "SELECT event_type FROM events WHERE stream_id = \(streamId) ORDER BY stream_version", logger: database.logger)
        var types: [String] = []
        for try await type in rows.decode(String.self) { types.append(type) }
        return types
    }

    /// The version of the stream's first event of `type`.
    func version(of type: String, in streamId: String, exchangeId: ExchangeID? = nil) async throws -> Int64 {
        let filter = exchangeId.map { String($0) } ?? ""
        let found = try await scalar(
            """
            SELECT coalesce(min(stream_version), 0) FROM events WHERE stream_id = \(streamId) AND event_type = \(type)
              AND (\(filter) = '' OR data->>'exchangeId' = \(filter))
            """, as: Int64.self)
        guard let found, found > 0 else { throw MissingEvent(type: type, streamId: streamId) }
        return found
    }
}

/// A test asked for an event its history does not have.
struct MissingEvent: Error {
    var type: String
    var streamId: String
}
