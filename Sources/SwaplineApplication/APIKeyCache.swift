import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Active API keys with their decrypted secrets, kept for a few seconds so a signed request
/// costs no key lookup and no decryption. A revocation reaches every node through
/// `NOTIFY swapline_key_revoked` (see `KeyRevocationListener`); the time to live bounds how long
/// a key can outlive its revocation should that notification be lost. Unknown keys are never
/// kept, so a new key works at once and guessing costs a lookup each time.
public final class APIKeyCache: Sendable {
    struct Entry {
        var record: APIKeyRecord
        var expires: ContinuousClock.Instant
    }

    /// The NOTIFY channel on which a revoked key's name is published.
    public static let revocationChannel = "swapline_key_revoked"

    public let timeToLive: Duration
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    public init(timeToLive: Duration, capacity: Int = 10_000) {
        self.timeToLive = timeToLive
        self.capacity = capacity
    }

    public func record(for key: String, now: ContinuousClock.Instant = .now) -> APIKeyRecord? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > now else {
                entries[key] = nil
                return nil
            }
            return entry.record
        }
    }

    public func keep(_ record: APIKeyRecord, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[record.key] = Entry(record: record, expires: now + timeToLive)
        }
    }

    public func forget(_ key: String) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    public func forgetAll() {
        entries.withLock { $0.removeAll() }
    }
}

/// Listens for revoked keys and drops them from this process's cache at once. While the
/// listening connection is lost the cache is emptied (a notification may have been missed) and
/// listening starts again.
public struct KeyRevocationListener: Service {
    let cache: APIKeyCache
    let client: PostgresClient
    let logger: Logger

    public init(cache: APIKeyCache, client: PostgresClient, logger: Logger) {
        self.cache = cache
        self.client = client
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: APIKeyCache.revocationChannel) { notifications in
                            // Listening now: anything revoked before is no longer in the cache.
                            cache.forgetAll()
                            for try await notification in notifications { cache.forget(notification.payload) }
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    cache.forgetAll()
                    logger.warning("LISTEN for key revocations lost; listening again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
