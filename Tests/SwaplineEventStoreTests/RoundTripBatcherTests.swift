import Synchronization
import Testing

@testable import SwaplineEventStore

@Suite("Round-trip batcher")
struct RoundTripBatcherTests {
    struct Refused: Error {}

    /// A batch function that records its batches and holds the first one until released, so
    /// the callers that arrive meanwhile have to wait and share the next batch.
    final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        let gate = AsyncStream<Void>.makeStream()

        func run(_ items: [Int]) async throws -> [String] {
            let first = batches.withLock { batches in
                batches.append(items)
                return batches.count == 1
            }
            if first { for await _ in gate.stream { break } }
            if items.contains(-1) { throw Refused() }
            return items.map { "item \($0)" }
        }
    }

    @Test func callersThatArriveDuringABatchShareTheNextOne() async throws {
        let recorder = Recorder()
        let batcher = RoundTripBatcher<Int, String>(maximumInFlight: 1) { try await recorder.run($0) }
        async let first = batcher.submit(0)
        try await waitUntil { recorder.batches.withLock { $0.count } == 1 }
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for item in 1...20 { group.addTask { (item, try await batcher.submit(item)) } }
            // The twenty wait behind the held batch; then it is released.
            try await waitUntil { batcher.waitingCount == 20 }
            recorder.gate.continuation.yield()
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(try await first == "item 0")
        #expect(results == Dictionary(uniqueKeysWithValues: (1...20).map { ($0, "item \($0)") }))
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.count == 2)
        #expect(batches.last?.sorted() == Array(1...20))
    }

    @Test func anErrorReachesEveryCallerOfItsBatchOnly() async throws {
        let recorder = Recorder()
        recorder.gate.continuation.yield()
        let batcher = RoundTripBatcher<Int, String>(maximumInFlight: 1) { try await recorder.run($0) }
        await #expect(throws: Refused.self) { try await batcher.submit(-1) }
        #expect(try await batcher.submit(5) == "item 5")
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw Refused() }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
