import Foundation
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore
import SwaplineTestSupport
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `swapline serve` as an operator runs it, stopped with SIGTERM while clients are creating.
@Suite("Graceful shutdown of a serve process", .enabled(if: SwaplineExecutable.isBuilt))
struct ShutdownTests {
    /// A port nothing listens on now.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A signed Calypso call; the status and body, or nil when no response came.
    static func call(_ base: String, _ path: String, account: String, key: String, secret: String, payload: String, timestamp: Int64) async
        -> (Int, String)?
    {
        let body = #"{"account":"\#(account)","timestamp":\#(timestamp),"payload":\#(payload)}"#
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(key, forHTTPHeaderField: "Key")
        request.setValue(CalypsoSignature.sign(body: Data(body.utf8), secret: secret), forHTTPHeaderField: "Sign")
        request.httpBody = Data(body.utf8)
        request.timeoutInterval = 10
        guard let (data, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    static func get(_ url: String) async -> (Int, String)? {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 20
        guard let (data, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func readyTurnsFalseWhenTheDatabaseGoesAndTrueWhenItIsBackWithoutARestart() async throws {
        try await TestDatabase.with { database in
            let secrets = try SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
            let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
            let issued = try await accounts.create(name: "outage")
            let port = try Self.freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try SwaplineExecutable.launch(
                ["serve", "--api", "--port", String(port)], database: database, environment: ["SWAPLINE_REQUEST_TIMEOUT_SECONDS": "1"])
            defer { if server.isRunning { server.terminate() } }
            _ = try await eventually("the server ready") { await Self.get(base + "/ready")?.0 == 200 ? true : nil }

            // The database goes away: no new connection is allowed and every open one is cut
            // (from another database: PostgreSQL refuses this for the current one).
            let name = database.url.database
            let admin = PostgresClient(
                configuration: database.url.with(database: "postgres").clientConfiguration(maximumConnections: 1), backgroundLogger: database.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await admin.run() }
                defer { group.cancelAll() }
                try await admin.query("ALTER DATABASE \(unescaped: "\"" + name + "\"") WITH ALLOW_CONNECTIONS false")
                try await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(name)")
                let notReady = try await eventually("/ready says 503", within: 60) {
                    guard let (status, body) = await Self.get(base + "/ready"), status == 503 else { return nil as String? }
                    return body
                }
                #expect(notReady.contains("database unavailable"))
                #expect(server.isRunning)
                // A signed request meanwhile gets Calypso's 503 within the request deadline; the
                // pool alone would keep it waiting for a connection until the database is back.
                let asked = ContinuousClock.now
                let during = await Self.call(
                    base, "/api/v1/account", account: issued.account.rawValue, key: issued.key, secret: issued.secret, payload: "{}",
                    timestamp: Int64(Date().timeIntervalSince1970 * 1000))
                #expect(during?.0 == 503)
                #expect(during?.1.contains(#""errorCode":"112""#) == true)
                #expect(ContinuousClock.now - asked < .seconds(8))
                // It comes back: the same process serves again.
                try await admin.query("ALTER DATABASE \(unescaped: "\"" + name + "\"") WITH ALLOW_CONNECTIONS true")
            }
            _ = try await eventually("/ready says 200 again", within: 60) { await Self.get(base + "/ready")?.0 == 200 ? true : nil }
            let after = await Self.call(
                base, "/api/v1/account", account: issued.account.rawValue, key: issued.key, secret: issued.secret, payload: "{}",
                timestamp: Int64(Date().timeIntervalSince1970 * 1000) + 1)
            #expect(after?.0 == 200)
        }
    }

    @Test func sigtermUnderLoadLosesNoAcknowledgedCreateAndExitsZero() async throws {
        try await TestDatabase.with { database in
            let secrets = try SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
            let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
            var merchants: [(account: String, key: String, secret: String)] = []
            for index in 0..<4 {
                let issued = try await accounts.create(name: "shutdown \(index)")
                _ = try await accounts.deposit(account: issued.account, currency: Currency("USDT_TRX"), amountText: "100000")
                merchants.append((issued.account.rawValue, issued.key, issued.secret))
            }
            let port = try Self.freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try SwaplineExecutable.launch(
                ["serve", "--api", "--port", String(port)], database: database, environment: ["SWAPLINE_RATE_LIMIT_PER_SECOND": "0"])
            defer { if server.isRunning { server.terminate() } }
            _ = try await eventually("the server listening") {
                var request = URLRequest(url: URL(string: base + "/health")!)
                request.timeoutInterval = 1
                return (try? await URLSession.shared.data(for: request)) != nil ? true : nil
            }

            let load = LoadState()
            let pid = server.processIdentifier
            await withTaskGroup(of: Void.self) { group in
                for merchant in merchants {
                    group.addTask {
                        // Create until the server stops answering.
                        var failures = 0
                        while failures < 3 {
                            let timestamp = load.clock.wrappingAdd(1, ordering: .relaxed).newValue
                            let answer = await Self.call(
                                base, "/api/v1/exchange/create", account: merchant.account, key: merchant.key, secret: merchant.secret,
                                payload: #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 10}"#, timestamp: timestamp)
                            guard let (status, body) = answer else {
                                if load.sigtermSent.load(ordering: .relaxed) { failures += 1 }
                                continue
                            }
                            if status == 200, let range = body.range(of: #""id":"#) {
                                let digits = body[range.upperBound...].prefix { $0.isNumber }
                                if let id = Int64(digits) { load.acknowledged.withLock { $0.append(id) } }
                            } else if !load.sigtermSent.load(ordering: .relaxed) {
                                Issue.record("create answered \(status) before SIGTERM: \(body)")
                                return
                            }
                        }
                    }
                }
                group.addTask {
                    _ = try? await eventually("20 creates acknowledged") { load.acknowledged.withLock { $0.count } >= 20 ? true : nil }
                    load.sigtermSent.store(true, ordering: .relaxed)
                    kill(pid, SIGTERM)
                }
            }
            server.waitUntilExit()
            #expect(server.terminationReason == .exit)
            #expect(server.terminationStatus == 0, "SIGTERM drains and exits 0")

            let ids = load.acknowledged.withLock { $0 }
            #expect(ids.count >= 20)
            let rows = try await database.owner.query("SELECT id FROM read.exchanges WHERE id = ANY (\(ids))")
            var stored = Set<Int64>()
            for try await id in rows.decode(Int64.self) { stored.insert(id) }
            #expect(stored == Set(ids), "every acknowledged exchange is stored")
            let streams = try await database.owner.query(
                "SELECT count(*) FROM events WHERE event_type = 'ExchangeRequested' AND stream_id = ANY (\(ids.map { "exchange-\($0)" }))")
            for try await count in streams.decode(Int64.self) { #expect(count == Int64(ids.count)) }
        }
    }
}

/// What the load loops share: the creates acknowledged, a timestamp that never repeats, and
/// whether SIGTERM was sent (after which failures are expected).
final class LoadState: Sendable {
    let acknowledged = Mutex<[Int64]>([])
    let clock = Atomic<Int64>(Int64(Date().timeIntervalSince1970 * 1000))
    let sigtermSent = Atomic<Bool>(false)
}
