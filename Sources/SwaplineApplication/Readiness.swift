import Logging
import PostgresNIO
import Synchronization
import SwaplineEventStore

/// What `GET /ready` asks: can this node serve now?
public enum Readiness {
    /// Nil when the database answers and has every migration this build knows; else why not.
    /// Answers within `timeout` even when the database does not: the pool waits for a
    /// connection as long as it takes, and a probe must not.
    public static func problem(client: PostgresClient, migrator: Migrator, logger: Logger, timeout: Duration = .seconds(5)) async -> String? {
        let answer = FirstAnswer()
        return await withCheckedContinuation { continuation in
            answer.continuation(continuation)
            // Unstructured, so a check stuck waiting for a connection cannot hold the answer back.
            Task {
                do {
                    let pending = try await migrator.pending(client: client, logger: logger)
                    answer.give(pending.isEmpty ? nil : "migrations not applied: \(pending.joined(separator: ", "))")
                } catch {
                    answer.give("database unavailable")
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                answer.give("database unavailable (no answer within \(timeout))")
            }
        }
    }
}

/// Resumes a continuation with the first answer given; later ones are dropped.
final class FirstAnswer: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<String?, Never>?, answered: Bool)>((nil, false))

    func continuation(_ continuation: CheckedContinuation<String?, Never>) { state.withLock { $0.continuation = continuation } }

    func give(_ answer: String?) {
        let continuation: CheckedContinuation<String?, Never>? = state.withLock { state in
            guard !state.answered, let continuation = state.continuation else { return nil }
            state.answered = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: answer)
    }
}
