import Crypto
import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// The default venue: keeps its book in its own table (`venue_orders`), fills after a configured
/// latency, and rejects a configured fraction of orders, chosen from the seed and the client
/// order id so a run is reproducible.
public struct SimulatedVenue: Venue {
    public let client: PostgresClient
    public let latencyMilliseconds: Int
    public let failureRate: Decimal
    public let seed: UInt64
    public let logger: Logger

    public init(client: PostgresClient, latencyMilliseconds: Int = 0, failureRate: Decimal = 0, seed: UInt64 = 1, logger: Logger) {
        self.client = client
        self.latencyMilliseconds = latencyMilliseconds
        self.failureRate = failureRate
        self.seed = seed
        self.logger = logger
    }

    /// A number in [0, 1) fixed by the seed and the order id.
    func draw(_ clientOrderId: String) -> Decimal {
        let digest = SHA256.hash(data: Data("\(seed):\(clientOrderId)".utf8))
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Decimal(value % 1_000_000) / 1_000_000
    }

    public func submit(_ order: VenueOrder) async throws -> VenueOrderStatus {
        let rejected = draw(order.clientOrderId) < failureRate
        let initial = rejected ? "REJECTED" : (latencyMilliseconds == 0 ? "FILLED" : "PENDING")
        try await client.run(
            InsertOrder.self,
            try PostgresBindings(
                order.clientOrderId, order.pair.source.code, order.pair.destination.code, order.sourceAmount.plainText,
                order.destinationAmount.plainText, initial, latencyMilliseconds),
            logger: logger)
        return try await status(clientOrderId: order.clientOrderId)
    }

    enum InsertOrder: PreparedSQL {
        static let sql = """
            INSERT INTO venue_orders (client_order_id, source_currency, destination_currency, source_amount, destination_amount,
                                      status, fill_due_at, filled_at)
            VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, now() + make_interval(secs => $7 / 1000.0), CASE WHEN $6 = 'FILLED' THEN now() END)
            ON CONFLICT (client_order_id) DO NOTHING
            """
    }

    enum OrderStatus: PreparedSQL {
        static let sql = """
            WITH filled AS (
                UPDATE venue_orders SET status = 'FILLED', filled_at = now()
                WHERE client_order_id = $1 AND status = 'PENDING' AND fill_due_at <= now()
                RETURNING status
            )
            SELECT status FROM filled
            UNION ALL
            SELECT status FROM venue_orders WHERE client_order_id = $1 AND NOT EXISTS (SELECT 1 FROM filled)
            """
    }

    public func status(clientOrderId: String) async throws -> VenueOrderStatus {
        // A pending order whose latency has passed fills now, exactly once.
        for try await row in try await client.execute(Prepared(OrderStatus.self, try PostgresBindings(clientOrderId)), logger: logger) {
            return Self.status(try row.decode(String.self))
        }
        return .unknown
    }

    public func cancel(clientOrderId: String) async throws -> VenueOrderStatus {
        try await client.query(
            """
            UPDATE venue_orders SET status = 'CANCELLED'
            WHERE client_order_id = \(clientOrderId) AND status = 'PENDING' AND fill_due_at > now()
            """,
            logger: logger)
        return try await status(clientOrderId: clientOrderId)
    }

    static func status(_ text: String) -> VenueOrderStatus {
        switch text {
        case "FILLED": .filled
        case "PENDING": .pending
        case "CANCELLED": .cancelled
        default: .rejected("rejected by the simulated venue")
        }
    }

    /// How many orders the venue filled for this client order id (tests assert exactly one).
    public func fillCount(clientOrderId: String) async throws -> Int {
        let rows = try await client.query(
            "SELECT count(*) FROM venue_orders WHERE client_order_id = \(clientOrderId) AND status = 'FILLED'", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
