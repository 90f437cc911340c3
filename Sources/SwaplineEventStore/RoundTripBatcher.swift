import Synchronization

/// Combines concurrent callers' small statements into one round trip: while `maximumInFlight`
/// batches are running, new items wait, and the next batch takes every waiting item (up to
/// `maximumBatchSize`). A lone caller pays one round trip, as before; 32 concurrent callers pay
/// about one between them. Under the `exchange/get` benchmark a round trip cost about 0.7 ms of
/// CPU between PostgresNIO and the server, more than the rest of the request
/// (docs/PERFORMANCE.md).
///
/// `run` gets the items in arrival order and returns one result per item, in the same order;
/// if it throws, every caller in that batch gets the error.
public final class RoundTripBatcher<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Run = @Sendable ([Item]) async throws -> [Output]

    private struct Waiting {
        var item: Item
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let maximumInFlight: Int
    private let maximumBatchSize: Int
    private let run: Run

    public init(maximumInFlight: Int = 2, maximumBatchSize: Int = 256, run: @escaping Run) {
        precondition(maximumInFlight > 0 && maximumBatchSize > 0)
        self.maximumInFlight = maximumInFlight
        self.maximumBatchSize = maximumBatchSize
        self.run = run
    }

    /// Items waiting for a batch (for tests and gauges).
    public var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// The item's result, from a batch that started after this call.
    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startsBatch = state.withLock { state in
                state.waiting.append(Waiting(item: item, continuation: continuation))
                guard state.inFlight < maximumInFlight else { return false }
                state.inFlight += 1
                return true
            }
            if startsBatch { Task { await self.drain() } }
        }
    }

    /// Runs batches until nothing waits, then gives its in-flight slot back.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                guard !state.waiting.isEmpty else {
                    state.inFlight -= 1
                    return []
                }
                let count = min(state.waiting.count, maximumBatchSize)
                let batch = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let outputs = try await run(batch.map(\.item))
                guard outputs.count == batch.count else {
                    throw BatchResultMismatch(items: batch.count, outputs: outputs.count)
                }
                for (waiting, output) in zip(batch, outputs) { waiting.continuation.resume(returning: output) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}

/// A batch function returned a different number of results than it was given items: a bug.
public struct BatchResultMismatch: Error, CustomStringConvertible {
    public var items: Int
    public var outputs: Int
    public var description: String { "a batch of \(items) items returned \(outputs) results" }
}
