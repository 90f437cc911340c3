import Foundation

/// What a writer expects a stream's version to be when it appends: the optimistic-concurrency check.
public enum ExpectedVersion: Sendable, Equatable {
    /// Append whatever the stream's version is.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have exactly this version.
    case exact(Int64)
}

/// An event to append: its type and schema version name the shape of `data`.
public struct NewEvent: Sendable, Equatable {
    public var eventId: UUID
    public var eventType: String
    public var schemaVersion: Int
    /// The payload as JSON text; PostgreSQL stores it as `jsonb`.
    public var data: String
    /// Correlation, causation, actor and request id, as JSON text.
    public var metadata: String

    public init(eventId: UUID = UUID(), eventType: String, schemaVersion: Int = 1, data: String, metadata: String = "{}") {
        self.eventId = eventId
        self.eventType = eventType
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
    }
}

/// Events for one stream, appended with one expected version.
public struct StreamAppend: Sendable, Equatable {
    public var streamId: String
    public var expectedVersion: ExpectedVersion
    public var events: [NewEvent]

    public init(streamId: String, expectedVersion: ExpectedVersion, events: [NewEvent]) {
        self.streamId = streamId
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// A position in the global order: events are read by (transaction id, global position), so an
/// event whose transaction commits late is still read after every event it could precede.
public struct GlobalCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var transactionId: UInt64
    public var position: Int64

    public static let start = GlobalCursor(transactionId: 0, position: 0)

    public init(transactionId: UInt64, position: Int64) {
        self.transactionId = transactionId
        self.position = position
    }

    public static func < (lhs: GlobalCursor, rhs: GlobalCursor) -> Bool {
        (lhs.transactionId, lhs.position) < (rhs.transactionId, rhs.position)
    }

    public var description: String { "\(transactionId)/\(position)" }
}

/// An event as stored, with its place in its stream, in the global order and in the hash chain.
public struct RecordedEvent: Sendable, Equatable {
    public var globalPosition: Int64
    public var transactionId: UInt64
    public var streamId: String
    public var streamVersion: Int64
    public var eventId: UUID
    public var eventType: String
    public var schemaVersion: Int
    /// jsonb's normalized text of the payload.
    public var data: String
    public var metadata: String
    public var recordedAt: Date
    public var previousHash: [UInt8]
    public var hash: [UInt8]

    public var cursor: GlobalCursor { GlobalCursor(transactionId: transactionId, position: globalPosition) }
}

/// Where an appended event landed.
public struct AppendedEvent: Sendable, Equatable {
    public var streamId: String
    public var streamVersion: Int64
    public var globalPosition: Int64
}

extension AppendedEvent {
    init(_ recorded: RecordedEvent) {
        self.init(streamId: recorded.streamId, streamVersion: recorded.streamVersion, globalPosition: recorded.globalPosition)
    }
}

public enum EventStoreError: Error, Equatable, CustomStringConvertible {
    /// Another writer appended to the stream first; reload and decide again.
    case wrongExpectedVersion(streamId: String, expected: ExpectedVersion)

    public var description: String {
        switch self {
        case .wrongExpectedVersion(let streamId, let expected):
            "stream \(streamId) was not at the expected version \(expected)"
        }
    }
}
