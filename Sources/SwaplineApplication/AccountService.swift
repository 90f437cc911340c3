import Crypto
import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore

/// New credentials, shown once: the secret is stored only encrypted.
public struct IssuedCredentials: Sendable, Equatable {
    public var account: AccountID
    public var key: String
    public var secret: String
}

/// An API key's account and decrypted secret, as request authentication needs them.
public struct APIKeyRecord: Sendable {
    public var key: String
    public var account: AccountID
    public var secret: String

    public init(key: String, account: AccountID, secret: String) {
        self.key = key
        self.account = account
        self.secret = secret
    }
}

/// Accounts, their balances (through the account aggregate) and their API keys.
public struct AccountService: Sendable {
    public let client: PostgresClient
    public let store: EventStore
    /// Shared by the services of one process so each stream is rebuilt from where it was last seen.
    public let aggregates: AggregateLoader
    public let secrets: SecretBox
    public let market: Market
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// Active keys kept for a few seconds (nil: every request looks its key up).
    public let keyCache: APIKeyCache?
    /// Concurrent requests' replay records, inserted together.
    let seenRequests: RoundTripBatcher<SeenRequest, Bool>

    public init(
        client: PostgresClient, secrets: SecretBox, market: Market, logger: Logger, aggregates: AggregateLoader? = nil,
        now: @escaping @Sendable () -> Date = Date.init, keyCache: APIKeyCache? = nil
    ) {
        self.keyCache = keyCache
        self.client = client
        self.store = EventStore.withReadModels(client: client, logger: logger)
        self.aggregates = aggregates ?? AggregateLoader(store: self.store)
        self.secrets = secrets
        self.market = market
        self.logger = logger
        self.now = now
        self.seenRequests = RoundTripBatcher { [client, logger] requests in try await Self.record(requests, client: client, logger: logger) }
    }

    /// Opens an account and issues its first API key.
    public func create(name: String, actor: String = "admin") async throws -> IssuedCredentials {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else { throw SwaplineError.badRequest("name must be 1 to 200 characters") }
        guard let account = AccountID(Credentials.newAccountID()) else { throw SwaplineError(.internalError, "bad account id") }
        let events: [AccountEvent]
        do {
            events = try Account.decide(.open(account: account, name: trimmed, at: now()), state: nil)
        } catch {
            throw SwaplineError(error)
        }
        let key = Credentials.newAPIKey()
        let secret = Credentials.newAPISecret()
        let sealed = try secrets.seal(secret)
        let metadata = EventMetadata(actor: actor)
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "INSERT INTO accounts (account_id, name) VALUES (\(account.rawValue), \(trimmed))", logger: logger)
            try await connection.query(
                "INSERT INTO api_keys (api_key, account_id, secret_ciphertext) VALUES (\(key), \(account.rawValue), \(Data(sealed)))",
                logger: logger)
            _ = try await store.append(
                [StreamAppend(streamId: Streams.account(account), expectedVersion: .noStream, events: try events.map { try Streams.newEvent($0, metadata: metadata) })],
                on: connection)
        }
        store.announceAppended()
        return IssuedCredentials(account: account, key: key, secret: secret)
    }

    /// Credits an account (admin). The amount is parsed by the one strict parser at the currency's scale.
    public func deposit(account: AccountID, currency: Currency, amountText: String, actor: String = "admin") async throws -> AccountState {
        try await move(account: account, currency: currency, amountText: amountText, actor: actor) { amount, at in
            .deposit(currency, amount, at: at)
        }
    }

    public func withdraw(account: AccountID, currency: Currency, amountText: String, actor: String = "admin") async throws -> AccountState {
        try await move(account: account, currency: currency, amountText: amountText, actor: actor) { amount, at in
            .withdraw(currency, amount, at: at)
        }
    }

    private func move(
        account: AccountID, currency: Currency, amountText: String, actor: String,
        command: (Decimal, Date) -> AccountCommand
    ) async throws -> AccountState {
        guard let info = market.currencies[currency] else { throw SwaplineError(.pairUnavailable, "unknown currency \(currency)") }
        let amount: Decimal
        do {
            amount = try Amount.parse(amountText, scale: info.scale)
        } catch {
            throw SwaplineError(error, field: "amount")
        }
        for _ in 0..<50 {
            let loaded = try await aggregates.loadAccount(account)
            guard loaded.state != nil else { throw SwaplineError.notFound("account \(account) not found") }
            let events: [AccountEvent]
            do {
                events = try Account.decide(command(amount, now()), state: loaded.state)
            } catch {
                throw SwaplineError(error)
            }
            do {
                try await store.append([
                    StreamAppend(
                        streamId: Streams.account(account), expectedVersion: loaded.expectedVersion,
                        events: try events.map { try Streams.newEvent($0, metadata: EventMetadata(actor: actor)) })
                ])
                return events.reduce(loaded.state) { Account.evolve($0, $1) }!
            } catch EventStoreError.wrongExpectedVersion {
                continue
            }
        }
        throw SwaplineError(.serviceUnavailable, "account \(account) is too busy; try again")
    }

    public func state(of account: AccountID) async throws -> AccountState {
        guard let state = try await aggregates.loadAccount(account).state else {
            throw SwaplineError.notFound("account \(account) not found")
        }
        return state
    }

    /// Issues a new key for the account; the old keys keep working until revoked.
    public func rotateKey(account: AccountID) async throws -> IssuedCredentials {
        _ = try await state(of: account)
        let key = Credentials.newAPIKey()
        let secret = Credentials.newAPISecret()
        let sealed = try secrets.seal(secret)
        try await client.query(
            "INSERT INTO api_keys (api_key, account_id, secret_ciphertext) VALUES (\(key), \(account.rawValue), \(Data(sealed)))",
            logger: logger)
        return IssuedCredentials(account: account, key: key, secret: secret)
    }

    /// Revokes a key at once; requests signed with it get error 002. The revocation is published
    /// (in the same statement) to every serving node's key cache.
    public func revokeKey(_ key: String) async throws {
        let rows = try await client.query(
            """
            WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE api_key = \(key) AND revoked_at IS NULL RETURNING api_key)
            SELECT revoked.api_key FROM revoked, LATERAL (SELECT pg_notify(\(APIKeyCache.revocationChannel), revoked.api_key)) AS published
            """,
            logger: logger)
        var found = false
        for try await _ in rows.decode(String.self) { found = true }
        keyCache?.forget(key)
        guard found else { throw SwaplineError.notFound("no active key \(key)") }
    }

    /// The active key's account and secret, or nil for an unknown or revoked key.
    public func activeKey(_ key: String) async throws -> APIKeyRecord? {
        if let cached = keyCache?.record(for: key) { return cached }
        let rows = try await client.query(
            "SELECT account_id, secret_ciphertext FROM api_keys WHERE api_key = \(key) AND revoked_at IS NULL", logger: logger)
        for try await (accountText, sealed) in rows.decode((String, Data).self) {
            guard let account = AccountID(accountText) else { return nil }
            let record = APIKeyRecord(key: key, account: account, secret: try secrets.open([UInt8](sealed)))
            keyCache?.keep(record)
            return record
        }
        return nil
    }

    /// The account's name as opened.
    public func accountExists(_ account: AccountID) async throws -> Bool {
        let rows = try await client.query("SELECT 1 FROM accounts WHERE account_id = \(account.rawValue)", logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    /// Records a signed request; false when the same key and signature were already seen inside
    /// the timestamp window, i.e. a replay. Kept in PostgreSQL so every node refuses it.
    /// Concurrent requests' records go in one statement (`RoundTripBatcher`).
    ///
    /// Committed without waiting for the WAL flush (`synchronous_commit` off for this one
    /// statement's transaction), which spared a disk flush on every read request. Nothing is
    /// weakened: a request that writes commits synchronously afterwards, and that flush covers
    /// this earlier record too; only a read's record can be lost in a crash, and replaying a read
    /// changes nothing.
    public func recordRequest(key: String, signature: String) async throws -> Bool {
        try await record(SeenRequest(key: key, signature: signature))
    }

    /// Records a signed request (see `recordRequest(key:signature:)`); false for a replay.
    public func record(_ request: SeenRequest) async throws -> Bool {
        try await seenRequests.submit(request)
    }

    /// A request as the replay guard keeps it: SHA-256 of `key + " " + signature` (the signature
    /// in lower-case hex, always 128 characters, so the pair is unambiguous), as
    /// `schema/0011_seen_request_digests.sql` computes it for older rows.
    public struct SeenRequest: Hashable, Comparable, Sendable {
        public var digest: ByteBuffer

        public init(key: String, signature: String) {
            var hash = SHA256()
            hash.update(data: Array(key.utf8))
            hash.update(data: [UInt8(ascii: " ")])
            hash.update(data: Array(signature.utf8))
            digest = hash.finalize().withUnsafeBytes { ByteBuffer(bytes: $0) }
        }

        init(digest: ByteBuffer) { self.digest = digest }

        public static func < (left: Self, right: Self) -> Bool {
            left.digest.readableBytesView.lexicographicallyPrecedes(right.digest.readableBytesView)
        }
    }

    /// One statement for the batch. A request twice in one batch is inserted once: its first
    /// occurrence is the request, the others are replays. Rows go in digest order, so two batches
    /// that share rows (only replays do) lock them in the same order and cannot deadlock.
    static func record(_ requests: [SeenRequest], client: PostgresClient, logger: Logger) async throws -> [Bool] {
        var fresh = Set<SeenRequest>()
        let rows = try await client.execute(Prepared(RecordRequest.self, try PostgresBindings(distinctDigests(requests))), logger: logger)
        for try await digest in rows.decode(ByteBuffer.self) {
            fresh.insert(SeenRequest(digest: digest))
        }
        return firstSightings(requests, fresh: fresh)
    }

    /// A batch's digests as its statement records them: each once, in digest order.
    public static func distinctDigests(_ requests: [SeenRequest]) -> [ByteBuffer] {
        Set(requests).sorted().map(\.digest)
    }

    /// Which of the batch's requests are new: those the statement recorded (`fresh`), each at its
    /// first occurrence in the batch; a later copy is a replay.
    public static func firstSightings(_ requests: [SeenRequest?], fresh: Set<SeenRequest>) -> [Bool] {
        var fresh = fresh
        return requests.map { $0.map { fresh.remove($0) != nil } ?? true }
    }

    /// The replay guard's insert, as a `recorded` CTE over the digests in `$<parameter>`,
    /// returning the digests it recorded: the rest were seen inside the window. For this
    /// statement's transaction `synchronous_commit` is off (see `recordRequest`).
    public static func recordingSQL(digestsParameter parameter: Int) -> String {
        """
        async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
        recorded AS (
            INSERT INTO seen_request_digests (digest)
            SELECT request.digest
            FROM async_commit, unnest($\(parameter)::bytea[]) WITH ORDINALITY AS request(digest, position)
            ORDER BY request.position
            ON CONFLICT (digest) DO UPDATE SET seen_at = now()
                WHERE seen_request_digests.seen_at < now() - interval '6 minutes'
            RETURNING digest)
        """
    }

    enum RecordRequest: PreparedSQL {
        static let sql = "WITH \(recordingSQL(digestsParameter: 1)) SELECT digest FROM recorded"
    }
}

extension SwaplineError {
    /// A signed request whose key and signature were already seen inside the timestamp window.
    public static let replayed = SwaplineError(.replayedRequest, "this request was already received; sign a new one with a fresh timestamp")
}
