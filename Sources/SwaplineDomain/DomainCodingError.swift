import Foundation

/// Why stored event bytes could not be turned back into a domain event.
public enum DomainCodingError: Error, Equatable, Sendable {
    /// The stream holds an event type this build does not know.
    case unknownEventType(String)
    /// The event was written with a schema version this build cannot read (newer, or no upcaster).
    case unsupportedSchemaVersion(eventType: String, version: Int)
}
