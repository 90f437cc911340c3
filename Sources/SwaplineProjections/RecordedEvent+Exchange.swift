import Foundation
import SwaplineDomain
import SwaplineEventStore

/// An exchange event as the read models use it: which exchange, at which version of its stream.
public struct ExchangeFact: Sendable {
    public var id: ExchangeID
    public var version: Int64
    public var event: ExchangeEvent
}

extension Sequence where Element == RecordedEvent {
    /// The exchange events among these, decoded; other streams and unknown types are skipped.
    public func exchangeFacts() throws -> [ExchangeFact] {
        try compactMap { recorded in
            guard recorded.streamId.hasPrefix("exchange-"), ExchangeEvent.eventTypes.contains(recorded.eventType),
                let id = ExchangeID(recorded.streamId.dropFirst("exchange-".count))
            else { return nil }
            let event = try ExchangeEvent.decode(
                eventType: recorded.eventType, schemaVersion: recorded.schemaVersion, data: Data(recorded.data.utf8))
            return ExchangeFact(id: id, version: recorded.streamVersion, event: event)
        }
    }
}
