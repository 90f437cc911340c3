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

    private func load<State: Sendable, Event>(
        _ streamId: String,
        cache: AggregateCache<State>,
        decode: (RecordedEvent) throws -> Event,
        evolve: (State?, Event) -> State?
    ) async throws -> Loaded<State> {
        let cached = await cache.get(streamId)
        let newer = try await store.readStream(streamId, from: (cached?.version ?? 0) + 1)
        guard let last = newer.last else { return Loaded(state: cached?.state, version: cached?.version ?? 0) }
        var state = cached?.state
        for recorded in newer { state = evolve(state, try decode(recorded)) }
        await cache.put(streamId, state: state, version: last.streamVersion)
        return Loaded(state: state, version: last.streamVersion)
    }
}

extension EventStore {
    /// The store as Swapline's writers use it: every append also updates the inline read models.
    public static func withReadModels(client: PostgresClient, logger: Logger) -> EventStore {
        EventStore(client: client, logger: logger, inlineProjections: ReadModels.inline)
    }
}
