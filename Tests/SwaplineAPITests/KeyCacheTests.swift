import Foundation
import SwaplineApplication
import SwaplineDomain
import SwaplineTestSupport
import Synchronization
import Testing

@Suite("API key cache")
struct KeyCacheTests {
    static func record(_ key: String) -> APIKeyRecord {
        APIKeyRecord(key: key, account: AccountID("0x" + String(repeating: "a", count: 40))!, secret: "secret")
    }

    @Test func keepsAKeyForItsTimeToLiveAndForgetsOnRevocation() {
        let cache = APIKeyCache(timeToLive: .seconds(5))
        let start = ContinuousClock.now
        cache.keep(Self.record("k1"), now: start)
        #expect(cache.record(for: "k1", now: start + .seconds(4))?.secret == "secret")
        #expect(cache.record(for: "k1", now: start + .seconds(6)) == nil, "expired")
        cache.keep(Self.record("k2"), now: start)
        cache.forget("k2")
        #expect(cache.record(for: "k2", now: start) == nil)
    }

    @Test func staysWithinItsCapacity() {
        let cache = APIKeyCache(timeToLive: .seconds(5), capacity: 3)
        let start = ContinuousClock.now
        for index in 0..<10 { cache.keep(Self.record("k\(index)"), now: start) }
        #expect((0..<10).filter { cache.record(for: "k\($0)", now: start) != nil }.count <= 3)
        #expect(cache.record(for: "k9", now: start) != nil, "the newest is kept")
    }
}

/// A key revoked from another process stops working on a serving node at once, although that
/// node keeps keys for five minutes here: the revocation is published with NOTIFY.
@Suite("Key revocation reaches a serving node", .enabled(if: SwaplineExecutable.isBuilt))
struct KeyRevocationTests {
    @Test func aRevokedKeyIsRefusedAtOnceDespiteTheCache() async throws {
        try await TestDatabase.with { database in
            let secrets = try SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
            let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
            let issued = try await accounts.create(name: "revoked soon")
            let port = try ShutdownTests.freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try SwaplineExecutable.launch(
                ["serve", "--api", "--port", String(port)], database: database, environment: ["SWAPLINE_KEY_CACHE_SECONDS": "300"])
            defer { if server.isRunning { server.terminate() } }
            _ = try await eventually("the server ready") { await ShutdownTests.get(base + "/ready")?.0 == 200 ? true : nil }
            let clock = Clock()
            @Sendable func account() async -> (Int, String)? {
                await ShutdownTests.call(
                    base, "/api/v1/account", account: issued.account.rawValue, key: issued.key, secret: issued.secret, payload: "{}",
                    timestamp: clock.next())
            }
            #expect(await account()?.0 == 200, "the key is now cached")

            let revoked = try SwaplineExecutable.run(["accounts", "keys", "revoke", "--key", issued.key], database: database)
            #expect(revoked.status == 0, "\(revoked.errors)")
            let refusal = try await eventually("the revoked key refused", within: 10) {
                guard let (status, body) = await account(), status != 200 else { return nil as String? }
                return body
            }
            #expect(refusal.contains(#""errorCode":"002""#), "\(refusal)")
        }
    }

    /// Millisecond timestamps that never repeat, so no request is taken for a replay.
    final class Clock: Sendable {
        let last = Mutex(Int64(Date().timeIntervalSince1970 * 1000))
        func next() -> Int64 { last.withLock { $0 += 1; return $0 } }
    }
}
