import Hummingbird
import Logging
import SwaplineApplication
import SwaplineEventStore

/// Answers a signed request that has not finished within `timeout` with 503 and code `112`.
///
/// PostgresNIO's pool queues a request for a connection as long as it takes: while the database
/// is unreachable, requests would hang until it is back. The deadline cancels the handler, which
/// ends a wait for a connection at once (the pool supports cancelling a lease); a statement
/// already sent ends when PostgreSQL answers or the connection drops. Every write is one
/// transaction, so a cancelled request leaves nothing half done; a `create` that committed just
/// before its deadline is found again by its `idempotencyKey`.
struct RequestDeadlineMiddleware<Context: RequestContext>: RouterMiddleware {
    let timeout: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let timeout = timeout
        return try await withoutActuallyEscaping(next) { next in
            // The task group ends only after both children have, so `next` does not outlive this
            // call; the middleware chain is not used by anyone else meanwhile.
            nonisolated(unsafe) let next = next
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await next(request, context) }
                group.addTask {
                    // Not `Task.sleep`: on Linux each cancelled one lingers until its deadline.
                    try await EventLoopTimer.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    context.logger.warning("request deadline passed", metadata: ["timeout": "\(timeout)"])
                    throw SwaplineError(
                        .serviceUnavailable,
                        "the request did not finish within \(Self.describe(timeout)); the database may be unavailable, try again shortly")
                }
                return response
            }
        }
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
