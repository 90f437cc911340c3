import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization

/// A merchant's webhook endpoint: a real HTTP server on loopback that records every request and
/// answers as the test says (status, headers, a delay, or holding the request until released).
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var at: ContinuousClock.Instant
        var webhookId: String { headers["webhook-id"] ?? "" }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
        var eventType: String { json?["eventType"] as? String ?? "" }
    }

    struct Reply: Sendable {
        var status: Int = 200
        var headers: [(String, String)] = []
        var delay: Duration = .zero
        /// Hold the request until `release()`, then answer.
        var hold = false
    }

    private let log = Mutex<[Received]>([])
    private let released = Atomic<Bool>(false)
    let reply: @Sendable (Received, Int) -> Reply

    init(reply: @escaping @Sendable (Received, Int) -> Reply) {
        self.reply = reply
    }

    var received: [Received] { log.withLock { $0 } }

    /// Lets held requests answer.
    func release() { released.store(true, ordering: .relaxed) }

    /// Runs a receiver on 127.0.0.1 for `body`, giving it the receiver's URL.
    static func with<T: Sendable>(
        reply: @escaping @Sendable (Received, Int) -> Reply = { _, _ in Reply() },
        _ body: @Sendable (WebhookReceiver, String) async throws -> T
    ) async throws -> T {
        let receiver = WebhookReceiver(reply: reply)
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let received = Received(headers: headers, body: Array(bytes.readableBytesView), at: .now)
            let index = receiver.log.withLock { log in
                log.append(received)
                return log.count - 1
            }
            let answer = receiver.reply(received, index)
            if answer.hold {
                while !receiver.released.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
            }
            if answer.delay > .zero { try await Task.sleep(for: answer.delay) }
            var fields = HTTPFields()
            for (name, value) in answer.headers { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: "receiver says \(answer.status)")))
        }
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        return try await app.test(.live) { client in
            defer { receiver.release() }
            return try await body(receiver, "http://127.0.0.1:\(client.port!)/hook")
        }
    }
}
