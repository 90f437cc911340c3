import Foundation

/// One fact in an exchange's stream (`exchange-<id>`).
public enum ExchangeEvent: Sendable, Equatable {
    /// `ExchangeRequested`: created, priced, funds held.
    case requested(ExchangeRequested)
    /// `ExchangeQuoted`: execution rate fixed.
    case quoted(ExchangeQuoted)
    /// `ExchangeSubmitted`: sent to the venue.
    case submitted(ExchangeSubmitted)
    /// `ExchangeCompleted`: settled.
    case completed(ExchangeCompleted)
    /// `ExchangeFailed`: failed for a recorded reason.
    case failed(ExchangeFailed)

    /// The name stored in the event table's `event_type` column.
    public var eventType: String {
        switch self {
        case .requested: return "ExchangeRequested"
        case .quoted: return "ExchangeQuoted"
        case .submitted: return "ExchangeSubmitted"
        case .completed: return "ExchangeCompleted"
        case .failed: return "ExchangeFailed"
        }
    }

    /// The payload schema version this build writes; `decode` reads it (older versions would be upcast there).
    public static let schemaVersion = 1

    /// Every event type this build knows, for the event store's checks and documentation.
    public static let eventTypes = ["ExchangeRequested", "ExchangeQuoted", "ExchangeSubmitted", "ExchangeCompleted", "ExchangeFailed"]

    /// The payload as deterministic JSON (sorted keys, decimals and dates as strings), without the case name,
    /// which travels separately as `eventType`.
    public func encodedData() throws -> Data {
        switch self {
        case .requested(let payload): return try DomainJSON.encode(payload)
        case .quoted(let payload): return try DomainJSON.encode(payload)
        case .submitted(let payload): return try DomainJSON.encode(payload)
        case .completed(let payload): return try DomainJSON.encode(payload)
        case .failed(let payload): return try DomainJSON.encode(payload)
        }
    }

    /// Reads a stored event back.
    ///
    /// - Throws: `DomainCodingError.unknownEventType`, `DomainCodingError.unsupportedSchemaVersion`,
    ///   or the `DecodingError` of a malformed payload.
    public static func decode(eventType: String, schemaVersion: Int, data: Data) throws -> ExchangeEvent {
        guard eventTypes.contains(eventType) else { throw DomainCodingError.unknownEventType(eventType) }
        guard schemaVersion == Self.schemaVersion else {
            throw DomainCodingError.unsupportedSchemaVersion(eventType: eventType, version: schemaVersion)
        }
        switch eventType {
        case "ExchangeRequested": return .requested(try DomainJSON.decode(ExchangeRequested.self, from: data))
        case "ExchangeQuoted": return .quoted(try DomainJSON.decode(ExchangeQuoted.self, from: data))
        case "ExchangeSubmitted": return .submitted(try DomainJSON.decode(ExchangeSubmitted.self, from: data))
        case "ExchangeCompleted": return .completed(try DomainJSON.decode(ExchangeCompleted.self, from: data))
        case "ExchangeFailed": return .failed(try DomainJSON.decode(ExchangeFailed.self, from: data))
        default: throw DomainCodingError.unknownEventType(eventType)
        }
    }
}
