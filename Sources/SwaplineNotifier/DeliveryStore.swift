import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore

/// A delivery a worker holds the lease of, with what it needs to send it.
public struct ClaimedDelivery: Sendable {
    public var deliveryId: Int64
    public var webhookId: String
    public var subscriptionId: UUID
    public var url: String
    public var body: [UInt8]
    public var secrets: SigningSecrets
    public var leaseToken: UUID
}

/// What one attempt got back. `httpStatus` is nil when no response came (refused, timed out,
/// refused by the SSRF guard).
public struct AttemptOutcome: Sendable, Equatable {
    public var httpStatus: Int?
    public var latencyMilliseconds: Int
    public var error: String?
    /// The first KiB of the response body.
    public var responseExcerpt: String?
    /// The response's `Retry-After`, in seconds.
    public var retryAfterSeconds: Double?

    public init(httpStatus: Int?, latencyMilliseconds: Int, error: String? = nil, responseExcerpt: String? = nil, retryAfterSeconds: Double? = nil) {
        self.httpStatus = httpStatus
        self.latencyMilliseconds = latencyMilliseconds
        self.error = error
        self.responseExcerpt = responseExcerpt
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Only 2xx is success; 3xx is a failure (redirects are not followed).
    public var succeeded: Bool { httpStatus.map { (200..<300).contains($0) } ?? false }
}

/// What became of a delivery after an attempt.
public enum DeliveryResult: Sendable, Equatable {
    case delivered
    /// To be tried again in this many seconds.
    case retrying(after: Double)
    /// Retries used up; kept as DEAD for redelivery.
    case dead
    /// The lease ran out and another worker took the delivery; this outcome was not recorded.
    case leaseLost
}

/// One attempt as the delivery log shows it.
public struct DeliveryAttempt: Sendable, Equatable {
    public var attempt: Int
    public var at: Date
    public var httpStatus: Int?
    public var latencyMilliseconds: Int
    public var error: String?
    public var responseExcerpt: String?
}

/// One delivery as the delivery log shows it.
public struct DeliveryRecord: Sendable, Equatable {
    public var deliveryId: Int64
    public var webhookId: String
    public var subscriptionId: UUID
    public var eventType: String
    public var exchangeId: ExchangeID
    public var sequence: Int
    /// PENDING, DELIVERED or DEAD.
    public var status: String
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var deliveredAt: Date?
    public var attempts: [DeliveryAttempt]
}

/// The delivery table's operations: claiming and recording for workers, the log, redeliver and
/// recover for the API. Times are the database's, so any number of processes agree on them.
public struct DeliveryStore: Sendable {
    public static let statuses = ["PENDING", "DELIVERED", "DEAD"]

    public let client: PostgresClient
    public let secrets: SecretBox
    public let logger: Logger
    /// Concurrent sends' successes, recorded in one statement.
    let successes: RoundTripBatcher<Success, Bool>

    public init(client: PostgresClient, secrets: SecretBox, logger: Logger) {
        self.client = client
        self.secrets = secrets
        self.logger = logger
        self.successes = RoundTripBatcher { [client, logger] successes in try await Self.recordSuccesses(successes, client: client, logger: logger) }
    }

    // MARK: - Workers

    /// Leases up to `limit` due deliveries of active subscriptions. A delivery waits while an
    /// earlier one of the same exchange and subscription is still pending, so one exchange's
    /// webhooks reach an endpoint in order; nothing else waits on anything.
    ///
    /// The subscription is checked in a subquery, not joined: joined, the planner computed every
    /// due delivery of every subscription and sorted them to take a few (87 ms a claim with
    /// 6,000 pending, which capped delivery at ~180/s); this way it walks the due index in
    /// order and stops at the limit (1 ms).
    public func claim(limit: Int, leaseSeconds: Double) async throws -> [ClaimedDelivery] {
        let token = UUID()
        let rows = try await client.execute(Prepared(ClaimDue.self, try PostgresBindings(token, leaseSeconds, limit)), logger: logger)
        var claimed: [ClaimedDelivery] = []
        for try await columns in rows {
            let row = try columns.decode((Int64, String, UUID, String, Data, String, Data, Data, Data?).self)
            let signing = SigningSecrets(
                publicKey: row.5, secretKey: try secrets.open([UInt8](row.6)), webhookSecret: try secrets.open([UInt8](row.7)),
                previousWebhookSecret: try row.8.map { try secrets.open([UInt8]($0)) })
            claimed.append(
                ClaimedDelivery(
                    deliveryId: row.0, webhookId: row.1, subscriptionId: row.2, url: row.3, body: [UInt8](row.4), secrets: signing,
                    leaseToken: token))
        }
        return claimed
    }

    /// Prepared: planning it took 6 ms, more than running it (2.5 ms with 9,000 pending).
    enum ClaimDue: PreparedSQL {
        static let sql = """
            UPDATE webhook_deliveries d
            SET lease_token = $1, lease_until = now() + $2 * interval '1 second', updated_at = now()
            FROM webhook_subscriptions s
            WHERE s.request_id = d.subscription_id AND d.delivery_id IN (
                SELECT c.delivery_id FROM webhook_deliveries c
                WHERE c.status = 'PENDING' AND c.next_attempt_at <= now() AND (c.lease_until IS NULL OR c.lease_until < now())
                  AND (SELECT cs.state = 'ACTIVE' AND cs.deleted_at IS NULL FROM webhook_subscriptions cs WHERE cs.request_id = c.subscription_id)
                  AND \(DeliveryStore.noEarlierPending("c"))
                ORDER BY c.next_attempt_at
                LIMIT $3
                FOR UPDATE OF c SKIP LOCKED)
            RETURNING d.delivery_id, d.webhook_id, d.subscription_id, s.url, d.body, s.public_key, s.secret_ciphertext,
                s.webhook_secret_ciphertext,
                CASE WHEN s.previous_secrets_until > now() THEN s.previous_webhook_secret_ciphertext END
            """
    }

    /// The ordering rule, for the delivery aliased `alias`: no earlier delivery of the same
    /// exchange to the same subscription is still pending.
    ///
    /// "Still pending" is written `NOT IN ('DELIVERED', 'DEAD')`, not `= 'PENDING'`, so that the
    /// planner cannot use the due index (partial on `status = 'PENDING'`) for this check and must
    /// look the exchange up by `webhook_deliveries_exchange`. When autovacuum had analyzed the
    /// table while nothing was pending, the due index was estimated at one row and chosen as the
    /// inner side of the anti-join: every checked delivery then walked the whole backlog (a claim
    /// of 32 from 10,000 pending took 207 ms instead of 1.3), and a benchmark run fell from 2,654
    /// to 312 deliveries/s.
    static func noEarlierPending(_ alias: String) -> String {
        """
        NOT EXISTS (
            SELECT 1 FROM webhook_deliveries e
            WHERE e.subscription_id = \(alias).subscription_id AND e.exchange_id = \(alias).exchange_id
              AND e.event_position < \(alias).event_position AND e.status NOT IN ('DELIVERED', 'DEAD'))
        """
    }

    /// Seconds until the next scheduled attempt (the earliest pending delivery due after now), or
    /// nil when none is scheduled: how long a worker whose claim came back short may sleep.
    ///
    /// What is due already was just claimed, or is leased, held back by an earlier delivery of its
    /// exchange, or waits for an inactive subscription: a record in this process or a new delivery
    /// rings the worker's doorbell, anything else (a record elsewhere, an expired lease) is found
    /// by its one-second poll. So only the future counts: one probe of the due index, where the
    /// earliest moment any delivery became claimable (the ordering rule and the lease checked for
    /// every pending delivery) cost 48–73 ms a call with 10,000 pending.
    public func secondsUntilNextAttempt() async throws -> Double? {
        let rows = try await client.query(PostgresQuery(unsafeSQL: Self.nextAttemptSQL), logger: logger)
        for try await seconds in rows.decode(Double?.self) { return seconds }
        return nil
    }

    static let nextAttemptSQL = """
        SELECT EXTRACT(EPOCH FROM (min(next_attempt_at) - now()))::float8
        FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at > now()
        """

    /// Records the attempt and moves the delivery on: delivered, scheduled again, or dead. A 410
    /// disables the subscription; sustained failure (more than `blockErrors` errors and no
    /// success within `blockWindowSeconds`) blocks it.
    public func record(
        _ delivery: ClaimedDelivery, outcome: AttemptOutcome, policy: RetryPolicy, blockErrors: Int, blockWindowSeconds: Double
    ) async throws -> DeliveryResult {
        let logger = self.logger
        if outcome.succeeded {
            let success = Success(
                deliveryId: delivery.deliveryId, leaseToken: delivery.leaseToken, subscriptionId: delivery.subscriptionId,
                httpStatus: outcome.httpStatus ?? 200, latencyMilliseconds: outcome.latencyMilliseconds,
                responseExcerpt: outcome.responseExcerpt.map(Self.storable))
            return try await successes.submit(success) ? .delivered : .leaseLost
        }
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT attempts, round_attempts FROM webhook_deliveries
                WHERE delivery_id = \(delivery.deliveryId) AND lease_token = \(delivery.leaseToken) FOR UPDATE
                """, logger: logger)
            var counts: (Int, Int)?
            for try await row in rows.decode((Int, Int).self) { counts = row }
            guard let (attempts, roundAttempts) = counts else { return .leaseLost }
            let attempt = attempts + 1
            try await connection.query(
                """
                INSERT INTO webhook_attempts (delivery_id, attempt, subscription_id, at, http_status, latency_ms, error, response_excerpt)
                VALUES (\(delivery.deliveryId), \(attempt), \(delivery.subscriptionId), now(), \(outcome.httpStatus),
                        \(outcome.latencyMilliseconds), \(outcome.error.map(Self.storable)), \(outcome.responseExcerpt.map(Self.storable)))
                """, logger: logger)
            let honoursRetryAfter = outcome.httpStatus == 429 || outcome.httpStatus == 503
            let delay = policy.delay(afterFailure: roundAttempts + 1, retryAfter: honoursRetryAfter ? outcome.retryAfterSeconds : nil)
            let error = Self.storable(outcome.error ?? "HTTP \(outcome.httpStatus ?? 0)")
            try await connection.query(
                """
                UPDATE webhook_deliveries
                SET status = \(delay == nil ? "DEAD" : "PENDING"), attempts = \(attempt), round_attempts = \(roundAttempts + 1),
                    next_attempt_at = now() + \(delay ?? 0) * interval '1 second', lease_token = NULL, lease_until = NULL,
                    last_error = \(error), updated_at = now()
                WHERE delivery_id = \(delivery.deliveryId)
                """, logger: logger)
            if outcome.httpStatus == 410 {
                try await connection.query(
                    """
                    UPDATE webhook_subscriptions SET state = 'DISABLED', updated_at = now()
                    WHERE request_id = \(delivery.subscriptionId) AND state <> 'DISABLED'
                    """, logger: logger)
            } else {
                try await connection.query(
                    """
                    UPDATE webhook_subscriptions SET state = 'BLOCKED', blocked_at = now(), updated_at = now()
                    WHERE request_id = \(delivery.subscriptionId) AND state = 'ACTIVE'
                      AND (SELECT count(*) FROM webhook_attempts
                           WHERE subscription_id = \(delivery.subscriptionId) AND at > now() - \(blockWindowSeconds) * interval '1 second'
                             AND (http_status IS NULL OR http_status NOT BETWEEN 200 AND 299)) > \(blockErrors)
                      AND NOT EXISTS (SELECT 1 FROM webhook_attempts
                           WHERE subscription_id = \(delivery.subscriptionId) AND at > now() - \(blockWindowSeconds) * interval '1 second'
                             AND http_status BETWEEN 200 AND 299)
                    """, logger: logger)
            }
            return delay.map { .retrying(after: $0) } ?? .dead
        }
    }

    struct Success: Sendable {
        var deliveryId: Int64
        var leaseToken: UUID
        var subscriptionId: UUID
        var httpStatus: Int
        var latencyMilliseconds: Int
        var responseExcerpt: String?
    }

    /// The common case, for every send that succeeded meanwhile, in one statement (one round
    /// trip, no explicit transaction): each delivery marked delivered and its attempt recorded,
    /// if the lease is still ours; true for those. One statement per success was the delivery
    /// worker's limit (docs/PERFORMANCE.md).
    ///
    /// Committed without waiting for the WAL flush: a record lost in a crash only means the
    /// webhook is sent again under the same webhook-id, which delivery at least once already
    /// allows; waiting for the flush made every delivery a disk flush.
    static func recordSuccesses(_ successes: [Success], client: PostgresClient, logger: Logger) async throws -> [Bool] {
        let ordered = successes.sorted { $0.deliveryId < $1.deliveryId }
        let bindings = try PostgresBindings(
            ordered.map(\.deliveryId), ordered.map(\.leaseToken), ordered.map(\.subscriptionId), ordered.map(\.httpStatus),
            ordered.map(\.latencyMilliseconds), ordered.map { $0.responseExcerpt ?? "" }, ordered.map { $0.responseExcerpt != nil })
        var recorded = Set<Int64>()
        for try await deliveryId in try await client.execute(Prepared(RecordSuccesses.self, bindings), logger: logger).decode(Int64.self) {
            recorded.insert(deliveryId)
        }
        return successes.map { recorded.contains($0.deliveryId) }
    }

    enum RecordSuccesses: PreparedSQL {
        static let sql = """
            WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
            outcome AS (
                SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::text[], $7::bool[])
                    AS o(delivery_id, lease_token, subscription_id, http_status, latency_ms, excerpt, has_excerpt)),
            delivered AS (
                UPDATE webhook_deliveries d
                SET status = 'DELIVERED', attempts = d.attempts + 1, delivered_at = now(), lease_token = NULL, lease_until = NULL,
                    last_error = NULL, updated_at = now()
                FROM outcome o
                WHERE d.delivery_id = o.delivery_id AND d.lease_token = o.lease_token
                RETURNING d.delivery_id, d.attempts)
            INSERT INTO webhook_attempts (delivery_id, attempt, subscription_id, at, http_status, latency_ms, error, response_excerpt)
            SELECT o.delivery_id, delivered.attempts, o.subscription_id, now(), o.http_status, o.latency_ms, NULL,
                   CASE WHEN o.has_excerpt THEN o.excerpt END
            FROM delivered JOIN outcome o USING (delivery_id), async_commit
            RETURNING delivery_id
            """
    }

    /// PostgreSQL text holds no NUL; a receiver's bytes might.
    static func storable(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\0" }.map(Character.init))
    }

    // MARK: - The delivery log

    /// The subscription's deliveries, newest first, with their attempts; `cursor` is the last
    /// `deliveryId` of the previous page.
    public func list(
        account: AccountID, subscriptionId: UUID, status: String?, exchangeId: ExchangeID?, cursor: Int64?, limit: Int
    ) async throws -> (deliveries: [DeliveryRecord], nextCursor: Int64?) {
        try await requireSubscription(account: account, subscriptionId: subscriptionId)
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM webhook_deliveries
            WHERE subscription_id = \(subscriptionId) AND (\(status)::text IS NULL OR status = \(status))
              AND (\(exchangeId)::bigint IS NULL OR exchange_id = \(exchangeId)) AND (\(cursor)::bigint IS NULL OR delivery_id < \(cursor))
            ORDER BY delivery_id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var records = try await decode(rows)
        var nextCursor: Int64?
        if records.count > limit {
            records.removeLast()
            nextCursor = records.last?.deliveryId
        }
        return (try await withAttempts(records), nextCursor)
    }

    /// Queues one delivery of the account's again (delivered or dead alike), due now with a fresh
    /// retry schedule.
    public func redeliver(account: AccountID, deliveryId: Int64) async throws -> DeliveryRecord {
        let rows = try await client.query(
            """
            UPDATE webhook_deliveries d
            SET status = 'PENDING', next_attempt_at = now(), round_attempts = 0, delivered_at = NULL, updated_at = now()
            FROM webhook_subscriptions s
            WHERE d.delivery_id = \(deliveryId) AND d.account_id = \(account.rawValue)
              AND s.request_id = d.subscription_id AND s.deleted_at IS NULL
            RETURNING \(unescaped: Self.columns.split(separator: ",").map { "d." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
            """, logger: logger)
        guard let record = try await decode(rows).first else { throw SwaplineError.notFound("delivery \(deliveryId) not found") }
        try await ring()
        return try await withAttempts([record])[0]
    }

    /// Queues again every delivery of the subscription created in [since, until) that died or is
    /// waiting for a retry; returns how many.
    public func recover(account: AccountID, subscriptionId: UUID, since: Date, until: Date) async throws -> Int {
        try await requireSubscription(account: account, subscriptionId: subscriptionId)
        let rows = try await client.query(
            """
            WITH queued AS (
                UPDATE webhook_deliveries
                SET status = 'PENDING', next_attempt_at = now(), round_attempts = 0, updated_at = now()
                WHERE subscription_id = \(subscriptionId) AND created_at >= \(since) AND created_at < \(until)
                  AND (status = 'DEAD' OR (status = 'PENDING' AND attempts > 0))
                RETURNING 1)
            SELECT count(*) FROM queued
            """, logger: logger)
        var count = 0
        for try await n in rows.decode(Int64.self) { count = Int(n) }
        if count > 0 { try await ring() }
        return count
    }

    /// Wakes the delivery workers of every process.
    func ring() async throws {
        try await client.query("SELECT pg_notify(\(WebhookDispatcher.notificationChannel), '')", logger: logger)
    }

    private func requireSubscription(account: AccountID, subscriptionId: UUID) async throws {
        let rows = try await client.query(
            """
            SELECT 1 FROM webhook_subscriptions
            WHERE request_id = \(subscriptionId) AND account_id = \(account.rawValue) AND deleted_at IS NULL
            """, logger: logger)
        for try await _ in rows { return }
        throw SwaplineError.notFound("subscription \(subscriptionId.uuidString.lowercased()) not found")
    }

    static let columns = """
        delivery_id, webhook_id, subscription_id, event_type, exchange_id, sequence, status, next_attempt_at, created_at, delivered_at
        """

    private func decode(_ rows: PostgresRowSequence) async throws -> [DeliveryRecord] {
        var records: [DeliveryRecord] = []
        for try await row in rows.decode((Int64, String, UUID, String, Int64, Int, String, Date, Date, Date?).self) {
            records.append(
                DeliveryRecord(
                    deliveryId: row.0, webhookId: row.1, subscriptionId: row.2, eventType: row.3, exchangeId: row.4, sequence: row.5,
                    status: row.6, nextAttemptAt: row.6 == "PENDING" ? row.7 : nil, createdAt: row.8, deliveredAt: row.9, attempts: []))
        }
        return records
    }

    private func withAttempts(_ records: [DeliveryRecord]) async throws -> [DeliveryRecord] {
        guard !records.isEmpty else { return records }
        let ids = records.map(\.deliveryId)
        let rows = try await client.query(
            """
            SELECT delivery_id, attempt, at, http_status, latency_ms, error, response_excerpt FROM webhook_attempts
            WHERE delivery_id = ANY (\(ids)) ORDER BY delivery_id, attempt
            """, logger: logger)
        var attempts: [Int64: [DeliveryAttempt]] = [:]
        for try await row in rows.decode((Int64, Int, Date, Int?, Int, String?, String?).self) {
            attempts[row.0, default: []].append(
                DeliveryAttempt(attempt: row.1, at: row.2, httpStatus: row.3, latencyMilliseconds: row.4, error: row.5, responseExcerpt: row.6))
        }
        return records.map { record in
            var record = record
            record.attempts = attempts[record.deliveryId] ?? []
            return record
        }
    }
}
