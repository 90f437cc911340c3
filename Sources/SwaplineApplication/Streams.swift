import Foundation
import Logging
import PostgresNIO
import SwaplineDomain
import SwaplineEventStore
import SwaplineProjections

/// Stream names and the mapping between domain events and stored events.
public enum Streams {
    public static func exchange(_ id: ExchangeID) -> String { "exchange-\(id)" }
    public static func account(_ account: AccountID) -> String { "account-\(account.rawValue)" }

    public static func newEvent(_ event: ExchangeEvent, metadata: EventMetadata) throws -> NewEvent {
        NewEvent(
            eventType: event.eventType,
            schemaVersion: ExchangeEvent.schemaVersion,
            data: String(decoding: try event.encodedData(), as: UTF8.self),
            metadata: metadata.json
        )
    }

    public static func newEvent(_ event: AccountEvent, metadata: EventMetadata) throws -> NewEvent {
        NewEvent(
            eventType: event.eventType,
            schemaVersion: AccountEvent.schemaVersion,
            data: String(decoding: try event.encodedData(), as: UTF8.self),
            metadata: metadata.json
        )
    }

    public static func exchangeEvent(_ recorded: RecordedEvent) throws -> ExchangeEvent {
        try ExchangeEvent.decode(eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
    }

    public static func accountEvent(_ recorded: RecordedEvent) throws -> AccountEvent {
        try AccountEvent.decode(eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
    }
}

/// Who caused an event and why, stored beside it for auditors.
public struct EventMetadata: Sendable {
    public var actor: String
    public var requestId: String?
    public var correlationId: String?
    public var causationId: String?

    public init(actor: String, requestId: String? = nil, correlationId: String? = nil, causationId: String? = nil) {
        self.actor = actor
        self.requestId = requestId
        self.correlationId = correlationId
        self.causationId = causationId
    }

    var json: String {
        var members = ["\"actor\":\(Self.quoted(actor))"]
        if let requestId { members.append("\"requestId\":\(Self.quoted(requestId))") }
        if let correlationId { members.append("\"correlationId\":\(Self.quoted(correlationId))") }
        if let causationId { members.append("\"causationId\":\(Self.quoted(causationId))") }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// An aggregate's state with the version it was rebuilt at, for the next append's expected version.
public struct Loaded<State: Sendable>: Sendable {
    public var state: State?
    public var version: Int64
    public var expectedVersion: ExpectedVersion { version == 0 ? .noStream : .exact(version) }

    public init(state: State?, version: Int64) {
        self.state = state
        self.version = version
    }
}

/// Rebuilds aggregates from their streams, starting from a cached state when there is one.
public struct AggregateLoader: Sendable {
    public let store: EventStore
    private let accounts = AggregateCache<AccountState>()
    private let exchanges = AggregateCache<ExchangeState>(capacity: 2_000)

    public init(store: EventStore) {
        self.store = store
    }

    public func loadExchange(_ id: ExchangeID) async throws -> Loaded<ExchangeState> {
        try await load(Streams.exchange(id), cache: exchanges, decode: Streams.exchangeEvent, evolve: Exchange.evolve)
    }

    public func loadAccount(_ account: AccountID) async throws -> Loaded<AccountState> {
        try await load(Streams.account(account), cache: accounts, decode: Streams.accountEvent, evolve: Account.evolve)
    }

    /// The cached state, unchecked, when there is one; otherwise (nothing cached, or the stream
    /// cached as absent) a load. Saves the read on the first try of a decision that an append
    /// at the exact expected version then checks: a stale guess loses that append (a version
    /// conflict), and the caller, refused or conflicted, decides again from a load.
    public func guessAccount(_ account: AccountID) async throws -> Loaded<AccountState> {
        try await guess(Streams.account(account), cache: accounts) { try await loadAccount(account) }
    }

    /// As `guessAccount`, for an exchange.
    public func guessExchange(_ id: ExchangeID) async throws -> Loaded<ExchangeState> {
        try await guess(Streams.exchange(id), cache: exchanges) { try await loadExchange(id) }
    }

    /// Keeps what this process's own committed append made of the account's stream (`events`
    /// appended at exactly `loaded.version`), decoded from the stored form as a reader would,
    /// so the next guess needs no read.
    public func appended(_ events: [NewEvent], toAccount account: AccountID, after loaded: Loaded<AccountState>) async throws {
        try await remember(Streams.account(account), events, after: loaded, cache: accounts, evolve: Account.evolve) {
            try AccountEvent.decode(eventType: $0.eventType, schemaVersion: $0.schemaVersion, data: Data($0.data.utf8))
        }
    }

    /// As `appended(_:toAccount:after:)`, for an exchange.
    public func appended(_ events: [NewEvent], toExchange id: ExchangeID, after loaded: Loaded<ExchangeState>) async throws {
        try await remember(Streams.exchange(id), events, after: loaded, cache: exchanges, evolve: Exchange.evolve) {
            try ExchangeEvent.decode(eventType: $0.eventType, schemaVersion: $0.schemaVersion, data: Data($0.data.utf8))
        }
    }

    private func guess<State: Sendable>(
        _ streamId: String, cache: AggregateCache<State>, load: () async throws -> Loaded<State>
    ) async throws -> Loaded<State> {
        if let cached = await cache.get(streamId), cached.state != nil { return Loaded(state: cached.state, version: cached.version) }
        return try await load()
    }

    private func remember<State: Sendable, Event>(
        _ streamId: String, _ events: [NewEvent], after loaded: Loaded<State>, cache: AggregateCache<State>,
        evolve: (State?, Event) -> State?, decode: (NewEvent) throws -> Event
    ) async throws {
        var state = loaded.state
        for event in events { state = evolve(state, try decode(event)) }
        await cache.put(streamId, state: state, version: loaded.version + Int64(events.count))
    }

    private func load<State: Sendable, Event>(
        _ streamId: String,
        cache: AggregateCache<State>,
        decode: (RecordedEvent) throws -> Event,
        evolve: (State?, Event) -> State?
    ) async throws -> Loaded<State> {
        let cached = await cache.get(streamId)
        var state = cached?.state
        var version = cached?.version ?? 0
        // Folded page by page: a long stream read cold is never all in memory at once.
        try await store.readStream(streamId, from: version + 1) { page in
            for recorded in page { state = evolve(state, try decode(recorded)) }
            version = page.last?.streamVersion ?? version
        }
        guard version != (cached?.version ?? 0) else { return Loaded(state: cached?.state, version: version) }
        await cache.put(streamId, state: state, version: version)
        return Loaded(state: state, version: version)
    }
}

extension EventStore {
    /// The store as Swapline's writers use it: every append also updates the inline read models.
    public static func withReadModels(client: PostgresClient, logger: Logger) -> EventStore {
        EventStore(client: client, logger: logger, projecting: AppendWithReadModels.self)
    }
}
