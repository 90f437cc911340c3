import Testing

@testable import SwaplineEventStore

@Suite("Event-loop timers and the doorbell")
struct EventLoopTimerTests {
    @Test(.timeLimit(.minutes(1))) func aCancelledSleepEndsAtOnceWithCancellationError() async {
        let sleeper = Task { try await EventLoopTimer.sleep(for: .seconds(3600)) }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func aSleepLastsItsDuration() async throws {
        let start = ContinuousClock.now
        try await EventLoopTimer.sleep(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test(.timeLimit(.minutes(1))) func theDoorbellWakesAWaiterOnARingOrAtItsTimeout() async {
        let doorbell = Doorbell()
        let start = ContinuousClock.now
        await doorbell.wait(upTo: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        // A ring while waiting ends the wait long before its hour.
        let waiter = Task { await doorbell.wait(upTo: .seconds(3600)) }
        while !(await doorbell.isWaiting) { await Task.yield() }
        await doorbell.ring()
        await waiter.value
        // A ring with nobody waiting is kept for the next wait.
        await doorbell.ring()
        await doorbell.wait(upTo: .seconds(3600))
    }
}
