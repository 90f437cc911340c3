import Logging
import PostgresNIO

/// Wakes a waiting worker early (on NOTIFY) or lets it sleep until a timeout (the slow poll).
public actor Doorbell {
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var generation = 0

    public init() {}

    /// Whether a `wait` is in progress (for tests).
    var isWaiting: Bool { waiter != nil }

    public func ring() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            rung = true
        }
    }

    /// Returns at the next ring (or at once if it rang since the last wait), or after `timeout`.
    public func wait(upTo timeout: Duration) async {
        if rung {
            rung = false
            return
        }
        generation += 1
        let current = generation
        await withCheckedContinuation { continuation in
            waiter = continuation
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(current)
            }
        }
    }

    private func expire(_ expected: Int) {
        guard generation == expected, let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }

    /// Rings on every notification of `channel` until cancelled, listening again after a lost
    /// connection; the caller's slow poll covers the gap.
    public func listen(on channel: String, client: PostgresClient, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await _ in notifications { self.ring() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN lost; listening again", metadata: ["channel": "\(channel)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
