import Crypto
import Foundation

/// A digest of every stream head at one moment, kept by auditors outside the database.
///
/// A superuser can rewrite events and `stream_heads` together so that the chains verify again;
/// the seal, stored elsewhere, still names each stream's version and hash as they were, so
/// `AuditLog.verify(seal:)` catches the rewrite and names the stream.
///
/// Digest (recomputable in any language): for every head the line
/// `"<stream_id> <last_version> <lowercase hex last_hash>\n"`, lines sorted by their UTF-8
/// bytes, concatenated, then SHA-256, in lowercase hex.
public struct Seal: Sendable, Equatable, Codable {
    /// One stream's head as sealed.
    public struct Head: Sendable, Equatable, Codable {
        /// The stream.
        public var streamId: String
        /// Its last version when sealed.
        public var version: Int64
        /// The hash of that version, lowercase hex.
        public var hash: String

        /// Creates a head entry.
        public init(streamId: String, version: Int64, hash: String) {
            self.streamId = streamId
            self.version = version
            self.hash = hash
        }

        /// The digest line, without its newline.
        var line: String { "\(streamId) \(version) \(hash)" }
    }

    /// The file format's name and version, so a future format is never misread.
    public static let currentFormat = "swapline-seal/1"

    /// `currentFormat` for seals this build writes.
    public var format: String
    /// SHA-256 over the sorted head lines, lowercase hex.
    public var digest: String
    /// How many streams were sealed.
    public var streamCount: Int
    /// The highest global position among the heads: every event sealed is at or before it.
    public var position: Int64
    /// When the seal was taken (database time, ISO-8601 UTC).
    public var sealedAt: String
    /// Every head, sorted like the digest's lines, so a rewritten stream can be named.
    public var heads: [Head]

    /// A seal over `heads`, digest computed here.
    public init(heads: [Head], position: Int64, sealedAt: String) {
        let sorted = Self.sorted(heads)
        self.format = Self.currentFormat
        self.digest = Self.digest(of: sorted)
        self.streamCount = sorted.count
        self.position = position
        self.sealedAt = sealedAt
        self.heads = sorted
    }

    /// The digest of `heads` by the documented formula.
    public static func digest(of heads: [Head]) -> String {
        var hasher = SHA256()
        for head in sorted(heads) {
            hasher.update(data: Array((head.line + "\n").utf8))
        }
        return Hex.encode(Array(hasher.finalize()))
    }

    /// Whether the file still matches its own digest and count (an edited seal file does not).
    public var isIntact: Bool {
        format == Self.currentFormat && streamCount == heads.count && digest == Self.digest(of: heads)
    }

    /// Pretty, key-sorted JSON for the auditor's file.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a file written by `encoded()`.
    public static func decode(_ data: Data) throws -> Seal {
        try JSONDecoder().decode(Seal.self, from: data)
    }

    /// Byte order of the lines, the same in every language (not locale or Unicode collation).
    static func sorted(_ heads: [Head]) -> [Head] {
        heads.sorted { Array($0.line.utf8).lexicographicallyPrecedes(Array($1.line.utf8)) }
    }
}
