import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SwaplineApplication

/// Posts one signed webhook. The URL is checked by the SSRF guard again at every attempt (a
/// name may resolve elsewhere since the subscription was made) and the connection goes only to
/// the address that was checked: plain http requests the address literal with the original
/// `Host`; https uses a client pinned to that address (`dnsOverride`), so SNI and certificate
/// checks still use the name. Redirects are never followed.
public final class WebhookSender: Sendable {
    public let ssrfGuard: SSRFGuard
    let connectTimeout: TimeAmount
    let timeout: TimeAmount
    let httpClient: HTTPClient
    let pinnedClients: PinnedClients
    let logger: Logger

    /// The largest part of a response body that is read (and the first KiB kept).
    static let excerptBytes = 1024

    /// `connectionsPerHost` should be the worker's concurrency: AsyncHTTPClient's default of 8
    /// queued a 16-slot worker's sends to one endpoint behind each other (benchmark: 6.3 ms a
    /// send, 8 at a time).
    public init(ssrfGuard: SSRFGuard, connectTimeoutSeconds: Double, timeoutSeconds: Double, connectionsPerHost: Int = 16, logger: Logger) {
        self.ssrfGuard = ssrfGuard
        self.connectTimeout = .milliseconds(Int64(connectTimeoutSeconds * 1000))
        self.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        self.logger = logger
        self.httpClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: Self.configuration(connect: connectTimeout, timeout: timeout, connectionsPerHost: connectionsPerHost, dnsOverride: [:]))
        self.pinnedClients = PinnedClients(connect: connectTimeout, timeout: timeout, connectionsPerHost: connectionsPerHost)
    }

    static func configuration(connect: TimeAmount, timeout: TimeAmount, connectionsPerHost: Int, dnsOverride: [String: String]) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: connect, read: timeout), decompression: .disabled)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        configuration.dnsOverride = dnsOverride
        configuration.httpVersion = .http1Only
        return configuration
    }

    /// Sends and reports what came back; never throws (every failure is an outcome to record).
    public func send(url: String, body: [UInt8], headers: [(String, String)]) async -> AttemptOutcome {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - started
            return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        let pinned: PinnedURL
        do {
            pinned = try await ssrfGuard.pin(url)
        } catch {
            return AttemptOutcome(httpStatus: nil, latencyMilliseconds: elapsed(), error: error.message)
        }
        let client: HTTPClient
        var request: HTTPClientRequest
        if pinned.target.scheme == "https" {
            client = await pinnedClients.client(host: pinned.target.host, address: pinned.address.description)
            request = HTTPClientRequest(url: url)
        } else {
            client = httpClient
            request = HTTPClientRequest(url: pinned.requestURL)
            request.headers.add(name: "Host", value: pinned.hostHeader)
        }
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Swapline-Webhooks/1")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout, logger: logger)
            var excerpt: [UInt8] = []
            for try await chunk in response.body {
                excerpt.append(contentsOf: chunk.readableBytesView.prefix(Self.excerptBytes - excerpt.count))
                if excerpt.count >= Self.excerptBytes { break }
            }
            let retryAfter = RetryPolicy.retryAfterSeconds(response.headers.first(name: "Retry-After"), now: Date())
            let status = Int(response.status.code)
            return AttemptOutcome(
                httpStatus: status, latencyMilliseconds: elapsed(),
                error: (200..<300).contains(status) ? nil : "HTTP \(status)",
                responseExcerpt: excerpt.isEmpty ? nil : String(decoding: excerpt, as: UTF8.self), retryAfterSeconds: retryAfter)
        } catch {
            return AttemptOutcome(httpStatus: nil, latencyMilliseconds: elapsed(), error: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connect timed out"
            default: return "\(error)"
            }
        }
        let text = "\(error)"
        if text.contains("connectTimeout") { return "connect timed out" }
        if text.lowercased().contains("refused") { return "connection refused" }
        return text
    }

    public func shutdown() async {
        try? await httpClient.shutdown()
        await pinnedClients.shutdown()
    }

    /// A sender dropped without `shutdown` (a test's, a tool's) still closes its connections: the
    /// client stays alive until its shutdown completes.
    deinit {
        httpClient.shutdown { _ in }
    }
}

/// One client per (name, checked address) for https, so the connection is pinned to the address
/// while TLS still verifies the name. The oldest are shut down past a bound.
actor PinnedClients {
    let connect: TimeAmount
    let timeout: TimeAmount
    let connectionsPerHost: Int
    private var clients: [String: HTTPClient] = [:]
    private var order: [String] = []
    static let maximum = 64

    init(connect: TimeAmount, timeout: TimeAmount, connectionsPerHost: Int) {
        self.connect = connect
        self.timeout = timeout
        self.connectionsPerHost = connectionsPerHost
    }

    func client(host: String, address: String) -> HTTPClient {
        let key = host + "|" + address
        if let client = clients[key] { return client }
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: WebhookSender.configuration(
                connect: connect, timeout: timeout, connectionsPerHost: connectionsPerHost, dnsOverride: [host: address]))
        clients[key] = client
        order.append(key)
        if order.count > Self.maximum {
            let evicted = order.removeFirst()
            if let old = clients.removeValue(forKey: evicted) {
                // In-flight requests on it finish or fail; shutting down waits for nothing.
                Task { try? await old.shutdown() }
            }
        }
        return client
    }

    func shutdown() async {
        for client in clients.values { try? await client.shutdown() }
        clients = [:]
        order = []
    }

    deinit {
        for client in clients.values { client.shutdown { _ in } }
    }
}
