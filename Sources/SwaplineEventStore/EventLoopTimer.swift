import NIOCore
import NIOPosix

/// Timers on NIO's event loops, for deadlines that are almost always called off before they pass.
///
/// On Linux a cancelled `Task.sleep` keeps its task and its dispatch timer until the time it
/// would have woken, so a 10 s deadline on every request kept about 18,000 timers alive at 1,800
/// requests/s (`perf`: `_dispatch_timer_heap_resift` among the top symbols of `exchange/get`). An
/// event loop's scheduled task is taken off the loop's timer heap as soon as it is cancelled.
public enum EventLoopTimer {
    /// Sleeps for `duration`; throws `CancellationError` as soon as the task is cancelled.
    public static func sleep(for duration: Duration, on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) async throws {
        let scheduled = eventLoop.scheduleTask(in: TimeAmount(duration)) {}
        do {
            try await withTaskCancellationHandler {
                try await scheduled.futureResult.get()
            } onCancel: {
                scheduled.cancel()
            }
        } catch EventLoopError.cancelled {
            throw CancellationError()
        }
    }
}
