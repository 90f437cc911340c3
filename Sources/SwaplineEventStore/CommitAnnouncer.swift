import Logging
import PostgresNIO
import Synchronization

/// Wakes the listeners of every process (`LISTEN`) after a write has committed, with one
/// `pg_notify` statement of its own for all the commits that happened meanwhile.
///
/// Not a `NOTIFY` inside the writing transaction: PostgreSQL serialises the commits of
/// notifying transactions on one lock, held through the commit's WAL flush, so with a NOTIFY
/// in every append no two appends could share a flush. Under the create workload the
/// committing transactions spent most of their time queued on that lock (`pg_stat_activity`:
/// wait event `object`, its holder in `COMMIT`). A statement that only notifies writes just its
/// commit record (notifying takes a transaction id) and holds the lock through that one short
/// commit. (Committing it asynchronously was tried and was slower: docs/PERFORMANCE.md.)
///
/// The writer does not wait for it: `announce` returns at once, and one background task sends
/// what is pending, one statement at a time. An announcement lost (a crash, a failed statement)
/// costs a listener at most its once-a-second poll.
public final class CommitAnnouncer: Sendable {
    private struct State {
        var pending: Set<String> = []
        var sending = false
    }

    private let state = Mutex(State())
    private let client: PostgresClient
    private let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Notifies `channel` soon, together with whatever else is pending.
    public func announce(_ channel: String) {
        let startsSending = state.withLock { state in
            state.pending.insert(channel)
            guard !state.sending else { return false }
            state.sending = true
            return true
        }
        if startsSending { Task { await self.send() } }
    }

    private func send() async {
        while true {
            let channels = state.withLock { state -> [String] in
                let channels = state.pending.sorted()
                state.pending = []
                if channels.isEmpty { state.sending = false }
                return channels
            }
            guard !channels.isEmpty else { return }
            do {
                try await client.run(Announce.self, try PostgresBindings(channels), logger: logger)
            } catch {
                // Debug, not warning: the usual cause is a write that committed just before
                // the process closed its pool, and a lost announcement costs a listener at most
                // its once-a-second poll.
                logger.debug("notifying listeners failed", metadata: ["channels": "\(channels)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    enum Announce: PreparedSQL {
        static let sql = "SELECT pg_notify(channel, '') FROM unnest($1::text[]) AS channel"
    }
}
