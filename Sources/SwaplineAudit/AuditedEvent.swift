import Crypto
import Foundation
import Logging
import PostgresNIO

/// One stored event exactly as an auditor reads it: every column of `events`, with the values
/// that enter the hash chain in the text form the documented formula uses.
///
/// The formula (schema/0001_event_store.sql) hashes `data::text`, `metadata::text` and
/// `recorded_at` formatted by `to_char(... AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
/// so those columns are kept as the text PostgreSQL printed, never re-encoded on this side.
public struct AuditedEvent: Sendable, Equatable, Codable {
    /// Place in the global order (the identity column).
    public var globalPosition: Int64
    /// The appending transaction (`xid8`), the first key of the global order.
    public var transactionId: UInt64
    /// `exchange-<id>` or `account-<0x…>`.
    public var streamId: String
    /// 1, 2, 3, … within the stream.
    public var streamVersion: Int64
    /// `event_id::text` (lowercase UUID).
    public var eventId: String
    /// The domain event's name, e.g. `FundsHeld`.
    public var eventType: String
    /// The payload's schema version.
    public var schemaVersion: Int32
    /// `data::text`: jsonb's normalized output, the exact bytes hashed.
    public var data: String
    /// `metadata::text`, as hashed.
    public var metadata: String
    /// `recorded_at` in UTC with microseconds (`2026-01-02T03:04:05.123456Z`), as hashed.
    public var recordedAt: String
    /// The previous event's hash in the stream (32 zero bytes for version 1), lowercase hex.
    public var prevHash: String
    /// The stored hash, lowercase hex.
    public var hash: String

    /// Column names in the export, matching the table's so a line reads like a row.
    enum CodingKeys: String, CodingKey {
        case globalPosition = "global_position"
        case transactionId = "transaction_id"
        case streamId = "stream_id"
        case streamVersion = "stream_version"
        case eventId = "event_id"
        case eventType = "event_type"
        case schemaVersion = "schema_version"
        case data, metadata
        case recordedAt = "recorded_at"
        case prevHash = "prev_hash"
        case hash
    }

    /// The canonical text of the documented formula, built here from the stored columns, so the
    /// check does not trust the database's own `event_canonical_text`.
    public var canonicalText: String {
        [streamId, String(streamVersion), eventId, eventType, String(schemaVersion), recordedAt, data, metadata]
            .joined(separator: "\n")
    }

    /// `sha256(prev_hash || utf8(canonical))` recomputed in Swift from the stored `prev_hash`.
    public var recomputedHash: String {
        var hasher = SHA256()
        hasher.update(data: Hex.decode(prevHash) ?? [])
        hasher.update(data: Array(canonicalText.utf8))
        return Hex.encode(Array(hasher.finalize()))
    }

    /// The select list that yields these columns, in `decode`'s order.
    ///
    /// Its output columns keep the table's names (`transaction_id::text` is still called
    /// `transaction_id`), and ORDER BY resolves a bare name to the output column first, which would
    /// sort transaction ids as text ("1004" before "767"); queries therefore order by `events.`-qualified columns.
    static let columns = """
        global_position, transaction_id::text, stream_id, stream_version, event_id::text, event_type, schema_version,
        data::text, metadata::text, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        prev_hash, hash
        """

    static func decode(_ row: PostgresRow) throws -> AuditedEvent {
        let (position, transaction, streamId, version, eventId, type, schemaVersion, data, metadata, recordedAt, previousHash, hash) =
            try row.decode((Int64, String, String, Int64, String, String, Int32, String, String, String, Data, Data).self)
        return AuditedEvent(
            globalPosition: position, transactionId: UInt64(transaction) ?? 0, streamId: streamId, streamVersion: version,
            eventId: eventId, eventType: type, schemaVersion: schemaVersion, data: data, metadata: metadata, recordedAt: recordedAt,
            prevHash: Hex.encode([UInt8](previousHash)), hash: Hex.encode([UInt8](hash)))
    }
}

/// Lowercase hexadecimal, the form hashes take in findings, seals and exports.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        func value(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = value(characters[index]), let low = value(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static let zeroHash = String(repeating: "0", count: 64)
}
