import Hummingbird
import Logging
import Synchronization

/// A router served on a free port of 127.0.0.1 for the duration of `body`, which gets the port:
/// the demo's webhook receiver and the benchmarks' servers.
public enum LoopbackServer {
    public struct DidNotStart: Error, CustomStringConvertible {
        public var description: String { "the server did not start on 127.0.0.1 within 10 s" }
    }

    public static func with<T: Sendable>(
        router: Router<BasicRequestContext>, label: String, _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let port = Mutex<Int?>(nil)
        // Stopping the server by cancellation logs an error that is no error here.
        var quiet = Logger(label: label)
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            defer { group.cancelAll() }
            let deadline = ContinuousClock.now + .seconds(10)
            while port.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            guard let bound = port.withLock({ $0 }) else { throw DidNotStart() }
            return try await body(bound)
        }
    }
}
