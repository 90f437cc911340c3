import Foundation
import SwaplineTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `swapline demo` against `swapline serve`, both run as processes the way the README says.
@Suite("swapline demo", .enabled(if: SwaplineExecutable.isBuilt))
struct DemoTests {
    /// A loopback port nothing listens on now: bound to port 0, read back, closed.
    static func unusedPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket >= 0, "a socket")
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0, "bind to 127.0.0.1:0")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func walksTheFlowAndVerifiesBothWebhooksSignatures() async throws {
        try await TestDatabase.with { database in
            let port = try Self.unusedPort()
            let base = "http://127.0.0.1:\(port)"
            let server = try SwaplineExecutable.launch(
                ["serve", "--port", String(port)], database: database, environment: ["SWAPLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"])
            defer {
                if server.isRunning { server.terminate() }
                server.waitUntilExit()
            }
            _ = try await eventually("GET /health answering 200", within: 30) { () async -> Bool? in
                var request = URLRequest(url: URL(string: base + "/health")!)
                request.timeoutInterval = 1
                guard let (_, response) = try? await URLSession.shared.data(for: request) else { return nil }
                return (response as? HTTPURLResponse)?.statusCode == 200 ? true : nil
            }

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-demo-\(UUID().uuidString).json").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let accounts = try SwaplineExecutable.run(["accounts", "demo", "--file", file, "--url", base], database: database)
            try #require(accounts.status == 0, "\(accounts.errors)")

            let demo = try SwaplineExecutable.run(["demo", "--credentials", file, "--timeout", "30"], database: database)
            #expect(demo.status == 0, "demo failed: \(demo.errors)\n\(demo.output)")
            let lines = demo.output.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.contains("exchange/get") && $0.contains("COMPLETED") }, "\(demo.output)")
            let webhooks = lines.filter { $0.hasPrefix("webhook ") }
            #expect(webhooks.count == 2, "\(demo.output)")
            for event in ["EXCHANGE_CREATED", "EXCHANGE_COMPLETED"] {
                let line = webhooks.first { $0.contains(event) }
                #expect(line?.contains("Sign ✓") == true, "\(event): \(line ?? "missing")")
                #expect(line?.contains("webhook-signature ✓") == true, "\(event): \(line ?? "missing")")
            }
            #expect(!demo.output.contains("✗"))
            #expect(lines.contains { $0.contains("quoteId") && $0.contains("expiresAt") })
            #expect(lines.contains { $0.contains("subscription/webhook/delete") })

            server.terminate()
            server.waitUntilExit()
            #expect(server.terminationStatus == 0, "SIGTERM stops serve cleanly")
        }
    }
}
