import NIOCore
import NIOPosix

/// One thread of its own for the projection runners (their tasks and their PostgreSQL
/// connections' I/O), so that a runner woken by a commit runs at once instead of queueing
/// behind the API's requests on the shared event loops.
///
/// Under the create workload with everything on the shared loops, a runner's round trip took
/// ~8 ms of waiting between statements that ran in 0.2 ms (statement log, docs/PERFORMANCE.md):
/// the kernel shares the CPU fairly between threads, not between the tasks queued on one.
final class RunnerThread: TaskExecutor {
    let group: MultiThreadedEventLoopGroup
    let eventLoop: any EventLoop

    init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        eventLoop = group.next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
