import Foundation

/// One fact in an account's stream (`account-<id>`).
public enum AccountEvent: Sendable, Equatable {
    /// `AccountOpened`.
    case opened(AccountOpened)
    /// `FundsDeposited`: available rises.
    case deposited(FundsDeposited)
    /// `FundsWithdrawn`: available falls.
    case withdrawn(FundsWithdrawn)
    /// `FundsHeld`: available to held, counted against the day's limit.
    case held(FundsHeld)
    /// `HoldReleased`: held back to available, and to the day's limit.
    case released(HoldReleased)
    /// `ExchangeSettled`: the hold leaves, the destination amount arrives.
    case settled(ExchangeSettled)

    /// The name stored in the event table's `event_type` column.
    public var eventType: String {
        switch self {
        case .opened: return "AccountOpened"
        case .deposited: return "FundsDeposited"
        case .withdrawn: return "FundsWithdrawn"
        case .held: return "FundsHeld"
        case .released: return "HoldReleased"
        case .settled: return "ExchangeSettled"
        }
    }

    /// The payload schema version this build writes.
    public static let schemaVersion = 1

    /// Every event type this build knows.
    public static let eventTypes = ["AccountOpened", "FundsDeposited", "FundsWithdrawn", "FundsHeld", "HoldReleased", "ExchangeSettled"]

    /// The payload as deterministic JSON (sorted keys, decimals and dates as strings).
    public func encodedData() throws -> Data {
        switch self {
        case .opened(let payload): return try DomainJSON.encode(payload)
        case .deposited(let payload): return try DomainJSON.encode(payload)
        case .withdrawn(let payload): return try DomainJSON.encode(payload)
        case .held(let payload): return try DomainJSON.encode(payload)
        case .released(let payload): return try DomainJSON.encode(payload)
        case .settled(let payload): return try DomainJSON.encode(payload)
        }
    }

    /// Reads a stored event back.
    ///
    /// - Throws: `DomainCodingError.unknownEventType`, `DomainCodingError.unsupportedSchemaVersion`,
    ///   or the `DecodingError` of a malformed payload.
    public static func decode(eventType: String, schemaVersion: Int, data: Data) throws -> AccountEvent {
        guard eventTypes.contains(eventType) else { throw DomainCodingError.unknownEventType(eventType) }
        guard schemaVersion == Self.schemaVersion else {
            throw DomainCodingError.unsupportedSchemaVersion(eventType: eventType, version: schemaVersion)
        }
        switch eventType {
        case "AccountOpened": return .opened(try DomainJSON.decode(AccountOpened.self, from: data))
        case "FundsDeposited": return .deposited(try DomainJSON.decode(FundsDeposited.self, from: data))
        case "FundsWithdrawn": return .withdrawn(try DomainJSON.decode(FundsWithdrawn.self, from: data))
        case "FundsHeld": return .held(try DomainJSON.decode(FundsHeld.self, from: data))
        case "HoldReleased": return .released(try DomainJSON.decode(HoldReleased.self, from: data))
        case "ExchangeSettled": return .settled(try DomainJSON.decode(ExchangeSettled.self, from: data))
        default: throw DomainCodingError.unknownEventType(eventType)
        }
    }
}
