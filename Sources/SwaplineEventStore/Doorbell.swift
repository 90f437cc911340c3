import Logging
import PostgresNIO

/// Wakes a waiting worker early (on NOTIFY) or lets it sleep until a timeout (the slow poll).
public actor Doorbell {
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var generation = 0

    public init() {}

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
        await Notifications.listen(on: channel, client: client, logger: logger) { _ in await self.ring() }
    }
}

/// LISTEN that outlives a lost connection.
public enum Notifications {
    /// Calls `received` for every notification of `channel` until cancelled, listening again a
    /// second after a lost connection. Notifications sent while not listening are lost, so
    /// `listening` runs each time listening (re)starts and `lost` each time it stops: a caller
    /// that keeps state reloads or drops it there.
    public static func listen(
        on channel: String, client: PostgresClient, logger: Logger,
        listening: @escaping @Sendable () async -> Void = {}, lost: @escaping @Sendable () async -> Void = {},
        _ received: @escaping @Sendable (PostgresNotification) async -> Void
    ) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        await listening()
                        for try await notification in notifications { await received(notification) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                await lost()
                logger.warning("LISTEN lost; listening again", metadata: ["channel": "\(channel)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
