import Foundation
import NIOCore
import NIOPosix

/// Runs Swift Concurrency's tasks on the NIO event loops that do the process's I/O.
///
/// By default Swift's tasks run on a separate thread pool, so every request hops threads several
/// times: the socket read on an event loop, the handler on a pool thread, the PostgreSQL statement
/// on an event loop, the answer back on a pool thread, the response write on an event loop. Each
/// hop wakes a thread (an `eventfd` write or a futex): on 2 cores the kernel, mostly switching and
/// waking threads, had 30 % of a `perf record` of `exchange/get` (docs/PERFORMANCE.md). With the
/// event loops as the global executor a hop to the loop a task is already on is a queue append.
/// (Delayed jobs, such as a `Task.sleep`'s wake-up, still go through Dispatch: NIO's hook takes
/// only Swift's plain enqueues.)
///
/// `SWAPLINE_CONCURRENCY_EXECUTOR=default` keeps Swift's own pool (to compare, or if some code
/// ever blocks a thread for long: that would now stall an event loop).
enum ConcurrencyExecutor {
    /// Returns whether the event loops became the global executor.
    @discardableResult
    static func useEventLoopsUnlessConfigured() -> Bool {
        if ProcessInfo.processInfo.environment["SWAPLINE_CONCURRENCY_EXECUTOR"] == "default" {
            return false
        }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
